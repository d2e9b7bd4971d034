"""Real corpus files, and the wild sample's, with every heading respelt as another publisher
might write it, and the header moved to the end of the file or repeated part-way down: the same
payments, to the penny, as the hand-checked truth of the file as published."""

from __future__ import annotations

import csv
import functools
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from schemas.validate import report_file
from tests.conftest import CORPUS, NO_CORPUS
from tests.reliability import mutations

pytestmark = pytest.mark.skipif(not (CORPUS / "EXPECTED.tsv").exists(), reason=NO_CORPUS)

# Small real CSVs of payments from different publishers and systems.
FILES = (
    "cabinet-office/September_2014__25k_Transparency_Data__CSV_.csv",
    "craven-district-council/payments.csv",
    "foreign-commonwealth-office/spend-december-2010.csv",
    "general-teaching-council-england/gtce spend april 2011 to january 2012.csv",
    "hm-treasury/transparency_june12.csv",
    "hyndburn-borough-council/1808.csv",
    "marine-management-organisation/mmo-over-25k-1011.csv",
    "ministry-of-justice/moj-aramis-april-12.csv.csv",
    "openlylocal-test-fixtures/file_with_extra_lines_at_top.csv",
    "openlylocal-test-fixtures/windows_file_with_pound_signs_in_heading.csv",
    "partnerships-for-schools/pfs spend  may 2010.csv",
    "salford-city-council/2017-02.odileeds-clean.csv",
)
VARIED = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CASES = ("upper", "lower", "title", "camel", "same")
JOINERS = (" ", "_", "  ", ".")
WRAPS = ("X", "[X]", "(X)", " X ", "X:", "* X")
MONEY_WRAPS = ("X (£)", "£ X", "X GBP", "X in Sterling", "X £")


WILD = CORPUS / "wild"


@functools.cache
def wild_files() -> tuple[str, ...]:
    """The wild sample's files with a header row (its headerless one has none to respell)."""
    if not (WILD / "EXPECTED.tsv").exists():
        return ()
    with (WILD / "EXPECTED.tsv").open(encoding="utf-8") as rows:
        names = [row["file"] for row in csv.DictReader(rows, delimiter="\t")]
    return tuple(n for n in names if wild_report(n)["header_row"] is not None)


@functools.cache
def wild_report(name: str) -> dict:
    return report_file(WILD / name).to_json()


@functools.cache
def expected(name: str) -> dict:
    with (CORPUS / "EXPECTED.tsv").open(encoding="utf-8") as rows:
        return next(r for r in csv.DictReader(rows, delimiter="\t") if r["file"] == name)


@functools.cache
def parsed(name: str) -> mutations.CsvFile:
    if name in wild_files():
        return mutations.parse_csv((WILD / name).read_bytes(), wild_report(name)["header_row"])
    data = (CORPUS / "files" / name).read_bytes()
    return mutations.parse_csv(data, int(expected(name)["header_line"]))


@functools.cache
def truth(name: str) -> tuple[int, int]:
    """(payment rows, pence) as hand-checked: EXPECTED.tsv, or the wild sample's own."""
    if name in wild_files():
        with (WILD / "EXPECTED.tsv").open(encoding="utf-8") as rows:
            row = next(r for r in csv.DictReader(rows, delimiter="\t") if r["file"] == name)
    else:
        row = expected(name)
    return int(row["data_rows"]), int(row["amount_sum_pence"])


def respell(heading: str, case: str, joiner: str, wrap: str, shuffle: bool, nett: bool) -> str:
    words = heading.split()
    if not words:
        return heading
    if nett:
        words = ["Nett" if w.casefold() == "net" else w for w in words]
    if shuffle:
        words = words[1:] + words[:1]
    text = {"upper": " ".join(words).upper(), "lower": " ".join(words).lower(),
            "title": " ".join(words).title(), "camel": "".join(w.title() for w in words),
            "same": " ".join(words)}[case]
    if case != "camel":
        text = text.replace(" ", joiner)
    return wrap.replace("X", text)


@st.composite
def respellings(draw, header: list[str], amount_at: int) -> list[str]:
    out = []
    for index, heading in enumerate(header):
        wraps = WRAPS + (MONEY_WRAPS if index == amount_at else ())
        out.append(respell(heading, draw(st.sampled_from(CASES)), draw(st.sampled_from(JOINERS)),
                           draw(st.sampled_from(wraps)), draw(st.booleans()),
                           draw(st.booleans())))
    return out


def amount_column(name: str) -> int:
    table = parsed(name)
    if name in wild_files():
        wanted = next(c["header"] for c in wild_report(name)["columns"] if c["field"] == "Amount")
    else:
        wanted = expected(name)["amount_column"]
    header = [h.strip() for h in table.records[table.header_index]]
    return header.index(wanted.strip()) if wanted.strip() in header else -1


LAYOUTS = st.sampled_from(["as published", "header last", "header repeated"])


@VARIED
@given(name=st.sampled_from(FILES), data=st.data(), layout=LAYOUTS)
def test_respelt_moved_or_repeated_headings_never_change_rows_or_pence(name, data, layout):
    check_variant(name, data, layout, name.split("/")[0])


@VARIED
@given(data=st.data(), layout=LAYOUTS)
def test_the_wild_files_respelt_moved_or_repeated_read_the_same(data, layout):
    if not wild_files():
        pytest.skip(f"the wild sample is not at {WILD}")
    check_variant(data.draw(st.sampled_from(wild_files()), label="file"), data, layout, None)


def check_variant(name: str, data, layout: str, publisher: str | None) -> None:
    table = parsed(name)
    records = [list(r) for r in table.records]
    at = table.header_index
    header = data.draw(respellings(records[at], amount_column(name)), label="header")
    records[at] = header
    if layout == "header last":
        records = records[:at] + records[at + 1:] + [header]
    elif layout == "header repeated":
        body = len(records) - at - 1
        where = at + 1 + data.draw(st.integers(1, max(1, body - 1)), label="repeated at")
        records.insert(where, list(header))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(name).name
        path.write_bytes(mutations.write_csv(replace(table, records=records)))
        report = report_file(path, "spend", publisher).to_json()
    rows, pence = truth(name)
    assert report["kind"] == "transactions", report["verdict"]
    assert report["rows_read"] == rows, report["verdict"]
    assert report["amount_total_pence"] == pence, report["verdict"]
