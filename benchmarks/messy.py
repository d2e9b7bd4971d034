"""Generate realistic messy spending CSVs of any size, with the quirks of the real corpus.

    python -m benchmarks.messy OUT.csv [--rows 1000000] [--seed 1] [--clean CLEAN.csv]

Every file is cp1252 with a title line and a blank line above a header spelled as real
publishers spell it (../shared/corpus/HEADER_VARIANTS.tsv); amounts carry £ signs, thousands
commas, (brackets) and trailing spaces; dates are day first in several formats; some payees
are redacted; blank rows, a repeated header and a totals row sit among the payments; and a
few rows are genuinely bad (an amount or date that is not one, a missing payee) and must be
quarantined. The file is written in blocks, never held in memory, and the generator returns
what a correct load must find: rows loaded and quarantined, and their totals in pence.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ENCODING = "cp1252"
BLOCK_ROWS = 20_000
PERIOD = (dt.date(2023, 4, 1), dt.date(2024, 3, 31))
COUNCIL = "Borsetshire County Council"

# Real header spellings, each from HEADER_VARIANTS.tsv, per spend field; one is drawn per file.
HEADERS: dict[str, tuple[str, ...]] = {
    "OrganisationLabel": ("Body Name", "Organisation Label", "Authority Name", "Body"),
    "OrganisationalUnit": ("Service Area", "Directorate", "Expense Area", "Cost Centre",
                           "Service Division Label"),
    "ExpenseType": ("Expense Type", "Expenditure Category", "Account Description",
                    "4 Expense Type"),
    "PaymentDate": ("Payment Date", "Date", "Date paid", "Paid Date", "Payment  Date",
                    "PymtDate"),
    "TransactionNumber": ("Transaction Number", "Transaction No", "Trans No",
                          "Transation number"),
    "Amount": ("Amount", " Amount ", "Net Amount (£)", "Net amount", "AMOUNT", "Amount Paid"),
    "BeneficiaryName": ("Supplier Name", "Supplier", "Beneficiary Name", "Vendor Name",
                        "Supplier "),
    "BeneficiaryOtherID": ("Supplier ID", "supplier_id", "BeneficiaryOtherID"),
    "VATRegistrationNumber": ("VAT Registration Number", "Vat Reg No", "VAT Reg no"),
    "Narrative": ("Description", "Description ", "Narrative", "Transaction Description"),
    # Left unmapped by the crosswalk: its values travel in each row's `extra`.
    None: ("Department Family", "Project Code", "Expenditure Type"),
}
COLUMNS = tuple(HEADERS)

# Day-first date spellings (strftime), the first by far the most common, as in the corpus.
DATE_FORMATS = ("%d/%m/%Y", "{d}/{m}/%Y", "%d-%m-%Y", "%d.%m.%y", "%d-%b-%Y", "{d} %B %Y",
                "%Y-%m-%d", "%Y-%m-%d 00:00:00")
DATE_WEIGHTS = (0.70, 0.06, 0.05, 0.04, 0.06, 0.03, 0.04, 0.02)
# How an amount of pence is written: a function of (pounds, pence, negative).
AMOUNT_FORMATS = (
    lambda p, d, n: f"{'-' if n else ''}{p}.{d:02d}",
    lambda p, d, n: f"{'-' if n else ''}£{p:,}.{d:02d}",
    lambda p, d, n: f"({p:,}.{d:02d})" if n else f"{p:,}.{d:02d} ",
    lambda p, d, n: f" {'-' if n else ''}{p:,}.{d:02d} ",
    lambda p, d, n: f"{p}.{d:02d}-" if n else f"{p}.{d:02d}",
    lambda p, d, n: f"{'-' if n else ''}{p}" if d == 0 else f"{'-' if n else ''}{p}.{d:02d}",
)
AMOUNT_WEIGHTS = (0.55, 0.15, 0.12, 0.08, 0.04, 0.06)

# The kinds of payment row, with their share of rows; only "good" rows become payments.
GOOD, BAD_AMOUNT, BAD_DATE, NO_PAYEE = "good", "bad_amount", "bad_date", "no_payee"
ROW_KINDS = (GOOD, BAD_AMOUNT, BAD_DATE, NO_PAYEE)
ROW_WEIGHTS = (0.9975, 0.001, 0.001, 0.0005)
BAD_AMOUNTS = ("TBC", "12.34.56", "£", "#REF!", "1O0.00", "see note")
BAD_DATES = ("31/02/2023", "32/01/2024", "N/A", "2023-13-01", "00/00/0000", "TBC")
# Lines that are not payments, as a share of payment rows: blank rows of commas, empty lines.
BLANK_ROWS, EMPTY_LINES = 0.001, 0.0005

REDACTED = ("REDACTED", "Redacted - Personal Data", "Personal Information", "*****",
            "REDACTED COMMERCIAL CONFIDENTIALITY")
REDACTED_SHARE = 0.03
_FIRST = ("Acme", "Northern", "Borchester", "Ambridge", "Felpersham", "Severn", "Hollerton",
          "Penny Hassett", "Loxley", "Edgeley", "Lakey Hill", "Grey Gables", "Brookfield",
          "Café", "Müller", "O’Brien", "Señor", "Kingfisher", "Meridian", "Oakwood")
_SECOND = ("Care", "Construction", "Highways", "Catering", "Waste", "IT Services", "Legal",
           "Transport", "Cleaning", "Consulting", "Print", "Energy", "Homes", "Foster Care",
           "Education", "Water", "Security", "Grounds – Maintenance", "Leisure", "Supplies")
_SUFFIX = ("Ltd", "Limited", "LTD ", "plc", "& Sons Ltd", "LLP", "Trust", "CIC", "Ltd.", "")
SERVICES = ("Adults and Health", "Children’s Services", "Place", "Resources",
            "Public Health", "Communities", "Highways & Transport", "Education")
EXPENSES = ("Agency Staff", "Residential Care", "Building Repairs", "Professional Fees",
            "Software Licences", "Vehicle Hire", "Utilities – Electricity", "Grants",
            "Catering Supplies", "Legal Costs")
NARRATIVES = ("Invoice for services rendered", "Payment on account", "Monthly charge",
              "Quarterly fee, April to June", "Credit note", "Contract payment", "")
FAMILIES = ("Local Government", "Capital", "Revenue")


@dataclass
class MessyFile:
    """A generated file and what a correct load of it must find."""

    path: Path
    rows: int  # payment rows written (good and bad), the rows a load must account for
    loaded: int  # rows that must load as payments
    quarantined: int  # rows that must be quarantined
    loaded_pence: int  # sum of the loaded rows' amounts
    total_pence: int  # sum of every amount that parses, quarantined rows included
    header: list[str]
    header_line: int  # 1-based physical line of the header
    skipped: dict[str, int] = field(default_factory=dict)
    encoding: str = ENCODING

    def reconciles(self, loaded: int, quarantined: int, loaded_pence: int) -> list[str]:
        """What a load got wrong against this file, as sentences; empty when it reconciled."""
        wrong = []
        if loaded + quarantined != self.rows:
            wrong.append(f"{loaded} loaded + {quarantined} quarantined != {self.rows} rows")
        if (loaded, quarantined) != (self.loaded, self.quarantined):
            wrong.append(f"expected {self.loaded} loaded and {self.quarantined} quarantined, "
                         f"got {loaded} and {quarantined}")
        if loaded_pence != self.loaded_pence:
            wrong.append(f"loaded amounts total {loaded_pence} pence, expected "
                         f"{self.loaded_pence}")
        return wrong


def write_messy_csv(path: Path, rows: int, seed: int = 1, clean: Path | None = None) -> MessyFile:
    """Write `rows` payment rows of messy CSV to `path`, deterministically for a seed.

    With `clean`, the same payment rows are also written there as a tidy UTF-8 CSV headed
    by the schema's own field names, with plain amounts and dd/mm/yyyy dates (the file a
    generic validator such as frictionless can be pointed at).
    """
    rng = np.random.default_rng(seed)
    header = [str(rng.choice(HEADERS[name])) for name in COLUMNS]
    vocabulary = _vocabulary(rng)
    result = MessyFile(Path(path), rows, 0, 0, 0, 0, header, header_line=3)
    result.skipped = {"preamble": 1, "blank": 1, "repeated_header": 1, "totals": 1}
    repeat_at = rows // 2
    with _opened(path, ENCODING) as out, _opened(clean, "utf-8") as tidy:
        writer, tidy_writer = csv.writer(out), tidy and csv.writer(tidy)
        writer.writerow([f"Expenditure over £500 – {COUNCIL} – April 2023 to March 2024"])
        writer.writerow([])
        writer.writerow(header)
        if tidy_writer:
            tidy_writer.writerow([name for name in COLUMNS if name])
        for start in range(0, rows, BLOCK_ROWS):
            count = min(BLOCK_ROWS, rows - start)
            messy, tidy_rows = _block(rng, count, vocabulary, result, first=start == 0)
            if start <= repeat_at < start + count:
                messy.insert(repeat_at - start, header)
            writer.writerows(messy)
            if tidy_writer:
                tidy_writer.writerows(tidy_rows)
        writer.writerow(["Total", *[""] * (COLUMNS.index("Amount") - 1),
                         _money(result.total_pence, 1), *[""] * (len(COLUMNS) - 6)])
    return result


class _opened:
    """A text file opened for CSV writing, or nothing when there is no path."""

    def __init__(self, path: Path | None, encoding: str) -> None:
        self.stream = path and Path(path).open("w", encoding=encoding, newline="")

    def __enter__(self):
        return self.stream

    def __exit__(self, *_exc) -> None:
        if self.stream:
            self.stream.close()


def _vocabulary(rng: np.random.Generator) -> dict[str, list[str]]:
    names = sorted({f"{a} {b} {c}".strip() for a in _FIRST for b in _SECOND for c in _SUFFIX})
    names = [str(n) for n in rng.permutation(names)[:3000]]
    # Real names with commas and trailing spaces, which the CSV must quote or carry.
    names[:40] = [n.replace(" ", ", ", 1) for n in names[:40]]
    names[40:80] = [n + "  " for n in names[40:80]]
    days = [PERIOD[0] + dt.timedelta(d) for d in range((PERIOD[1] - PERIOD[0]).days + 1)]
    return {"names": names, "days": days, "dates": _date_texts(days)}


def _date_texts(days: list[dt.date]) -> list[list[str]]:
    texts = []
    for spelling in DATE_FORMATS:
        texts.append([d.strftime(spelling.format(d=d.day, m=d.month)) for d in days])
    return texts


def _block(rng: np.random.Generator, count: int, vocabulary: dict, result: MessyFile,
           first: bool = False):
    kinds = rng.choice(len(ROW_KINDS), count, p=ROW_WEIGHTS)
    negative = rng.random(count) < 0.03
    pence = np.round(rng.lognormal(11.0, 1.4, count)).astype(np.int64) + 50_000
    pence = np.where(negative, -pence, pence)
    amount_format = rng.choice(len(AMOUNT_FORMATS), count, p=AMOUNT_WEIGHTS)
    day = rng.integers(0, len(vocabulary["days"]), count)
    date_format = rng.choice(len(DATE_FORMATS), count, p=DATE_WEIGHTS)
    names = vocabulary["names"]
    payee = rng.integers(0, len(names), count)
    redacted = rng.random(count) < REDACTED_SHARE
    redaction = rng.integers(0, len(REDACTED), count)
    service = rng.integers(0, len(SERVICES), count)
    expense = rng.integers(0, len(EXPENSES), count)
    narrative = rng.integers(0, len(NARRATIVES), count)
    family = rng.integers(0, len(FAMILIES), count)
    bad = rng.integers(0, len(BAD_AMOUNTS), count)
    blank = rng.random(count)
    transaction = rng.integers(1_000_000, 9_999_999, count)
    # Plain lists: indexing numpy arrays one element at a time is several times slower.
    kinds, pence, amount_format, day, date_format, payee, redacted, redaction, service, \
        expense, narrative, family, bad, blank, transaction = (
            a.tolist() for a in (kinds, pence, amount_format, day, date_format, payee,
                                 redacted, redaction, service, expense, narrative, family,
                                 bad, blank, transaction))

    if first and count > 10:
        # Every file, however small, holds each kind of bad row, a blank row and an empty line.
        kinds[5:8] = [ROW_KINDS.index(k) for k in (BAD_AMOUNT, BAD_DATE, NO_PAYEE)]
        blank[5:7] = [0.0, BLANK_ROWS]

    messy, tidy = [], []
    for i in range(count):
        kind = ROW_KINDS[kinds[i]]
        amount = pence[i]
        name = REDACTED[redaction[i]] if redacted[i] else names[payee[i]]
        date = vocabulary["dates"][date_format[i]][day[i]]
        written = _money(amount, amount_format[i])
        if kind == BAD_AMOUNT:
            written = BAD_AMOUNTS[bad[i]]
        elif kind == BAD_DATE:
            date = BAD_DATES[bad[i]]
        elif kind == NO_PAYEE:
            name = ""
        _count(result, kind, amount)
        supplier_id = f"S{payee[i]:05d}"
        vat = f"GB{100000000 + payee[i] * 7919 % 900000000}" if payee[i] % 3 else ""
        row = [COUNCIL, SERVICES[service[i]], EXPENSES[expense[i]], date,
               str(transaction[i]), written, name, supplier_id, vat,
               NARRATIVES[narrative[i]], FAMILIES[family[i]]]
        messy.append(row)
        if blank[i] < BLANK_ROWS:
            messy.append([""] * len(row))
            result.skipped["blank"] += 1
        elif blank[i] < BLANK_ROWS + EMPTY_LINES:
            messy.append([])
            result.skipped["blank"] += 1
        plain = written if kind == BAD_AMOUNT else _money(amount, 0)
        tidy_date = date if kind == BAD_DATE else vocabulary["dates"][0][day[i]]
        tidy.append([COUNCIL, SERVICES[service[i]], EXPENSES[expense[i]], tidy_date,
                     str(transaction[i]), plain, name.strip(), supplier_id, vat,
                     NARRATIVES[narrative[i]]])
    return messy, tidy


def _count(result: MessyFile, kind: str, amount: int) -> None:
    if kind == GOOD:
        result.loaded += 1
        result.loaded_pence += amount
    else:
        result.quarantined += 1
    if kind != BAD_AMOUNT:
        result.total_pence += amount


def _money(pence: int, spelling: int) -> str:
    pounds, rest = divmod(abs(pence), 100)
    return AMOUNT_FORMATS[spelling](pounds, rest, pence < 0)


def iter_header_spellings() -> Iterator[tuple[str | None, str]]:
    """Every (field, header spelling) the generator may write."""
    for name, spellings in HEADERS.items():
        for spelling in spellings:
            yield name, spelling


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clean", type=Path, help="also write the tidy twin here")
    args = parser.parse_args(argv)
    made = write_messy_csv(args.path, args.rows, args.seed, args.clean)
    print(f"{made.path}: {made.rows:,} payment rows, {made.loaded:,} to load "
          f"({made.loaded_pence} pence), {made.quarantined:,} to quarantine; "
          f"all amounts {made.total_pence} pence; skipped {made.skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
