"""Dates as publishers write them: day first, month first, ISO, serials, two-digit years."""

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.dates import detect_order, parse_dates


@pytest.mark.parametrize(
    "text, order, expected, precision",
    [
        ("31/12/2023", "DMY", "2023-12-31", "day"),
        ("1/2/2023", "DMY", "2023-02-01", "day"),
        ("17/03/21", "DMY", "2021-03-17", "day"),  # two-digit year (Hyndburn)
        ("01/03/99", "DMY", "1999-03-01", "day"),  # two-digit years from 70 are 19yy
        ("01-Dec-10", "DMY", "2010-12-01", "day"),  # d-Mon-yy (FCO, HMT, MoD)
        ("5-Sept-2012", "DMY", "2012-09-05", "day"),
        ("5 September 2012", "DMY", "2012-09-05", "day"),
        ("12.05.2011", "DMY", "2011-05-12", "day"),  # dotted (GTCE invoice dates)
        ("2011-04-18T00:00:00", "DMY", "2011-04-18", "day"),  # ISO with time (Home Office)
        ("2025-01-02 00:00:00", "DMY", "2025-01-02", "day"),  # Devon 2025
        ("2023-06-01 01:00:00", "DMY", "2023-06-01", "day"),  # BST artefact (Lancashire Fire)
        ("2012-09", "DMY", "2012-09-01", "month"),  # month only (Darlington)
        ("40299", "DMY", "2010-05-01", "day"),  # Excel serial
        ("11/17/2009", "MDY", "2009-11-17", "day"),  # the month-first quarter (W&M)
        ("9/1/2009", "MDY", "2009-09-01", "day"),
        ("01/02/2010 00:00", "DMY", "2010-02-01", "day"),
        ("Jun-10", "DMY", "2010-06-01", "month"),  # Excel's mmm-yy: a month only
        ("June 2010", "DMY", "2010-06-01", "month"),
        ("Sept-2012", "MDY", "2012-09-01", "month"),
        ("2016/04/22", "DMY", "2016-04-22", "day"),  # ISO order with slashes (system exports)
    ],
)
def test_dates_parse(text, order, expected, precision):
    parsed = parse_dates(pd.Series([text], dtype="string"), order)
    assert bool(parsed.ok.iloc[0])
    assert parsed.dates.iloc[0] == pd.Timestamp(expected)
    assert parsed.precision.iloc[0] == precision


@pytest.mark.parametrize(
    "text, order",
    [("31/13/2023", "DMY"), ("30/02/2020", "DMY"), ("11/17/2009", "DMY"), ("#REF!", "DMY"),
     ("next tuesday", "DMY"), ("2023-13-01", "DMY"), ("01-Foo-10", "DMY"), ("123", "DMY"),
     ("0212-01-01", "DMY")],
)
def test_impossible_dates_are_errors(text, order):
    parsed = parse_dates(pd.Series([text], dtype="string"), order)
    assert not bool(parsed.ok.iloc[0])
    assert pd.isna(parsed.dates.iloc[0])


def test_empty_dates_are_missing_not_wrong():
    parsed = parse_dates(pd.Series(["", None], dtype="string"))
    assert parsed.ok.all()
    assert parsed.dates.isna().all()


@pytest.mark.parametrize(
    "values, order",
    [
        (["11/17/2009", "9/1/2009", "12/22/2009"], "MDY"),  # second part above 12: month first
        (["17/11/2009", "01/09/2009"], "DMY"),
        (["01/02/2009", "03/04/2009"], "DMY"),  # ambiguous throughout: UK day-first default
        (["2009-11-17"], "DMY"),
        (["13/01/2009", "01/13/2009"], "DMY"),  # contradictory: day first, bad rows fail
    ],
)
def test_month_first_files_are_detected(values, order):
    assert detect_order(pd.Series(values, dtype="string")) == order


@pytest.mark.parametrize(
    "text, non_standard", [("31/12/2023", False), ("2023-12-31", True), ("1/2/2023", True)]
)
def test_dates_not_written_as_the_guidance_recommends_are_flagged(text, non_standard):
    parsed = parse_dates(pd.Series([text], dtype="string"))
    assert bool(parsed.non_standard.iloc[0]) is non_standard


def test_a_file_parses_each_distinct_date_once_across_its_chunks():
    known: dict = {}
    first = parse_dates(pd.Series(["31/12/2023", None, "2023-12"], dtype="string"), "DMY", known)
    assert set(known) == {"31/12/2023", "2023-12", ()}  # () holds the parse of a missing cell
    known["2023-12"] = known["31/12/2023"]  # a remembered parse is used, not parsed again
    again = parse_dates(pd.Series(["2023-12", "31/12/2023", "nonsense", None], dtype="string"),
                        "DMY", known)
    assert again.dates.tolist()[:2] == [pd.Timestamp("2023-12-31")] * 2
    assert again.dates.isna().tolist() == [False, False, True, True]
    assert again.ok.tolist() == [True, True, False, True]
    assert again.precision.tolist() == ["day", "day", pd.NA, pd.NA]
    assert first.precision.tolist() == ["day", pd.NA, "month"]
    assert str(first.dates.dtype) == str(again.dates.dtype) == "datetime64[s]"


# Pieces of dates as publishers write them, and of what else lands in a date column.
DATE_PIECES = ["1", "01", "9", "12", "13", "29", "30", "31", "32", "0", "00", "2023", "2024",
               "1899", "1900", "2199", "2200", "0212", "23", "69", "70", "99", "40299", "20000",
               "19999", "80000", "80001", "/", "-", ".", ":", " ", "  ", "T", "Z", ",", "Sept",
               "sept", "SEPT", "April", "Apr", "apr", "Febr", "Foo", "May", "00:00", "00:00:00",
               ".5", "\t", "\x0b", "\x1c", "\n", "#REF!", "TBC", "N/A"]


_PART = st.sampled_from(DATE_PIECES[:26] + ["Apr", "sept", "Foo", "December"])
_SEPARATOR = st.sampled_from(["/", "-", ".", " ", "-", "/", ", ", "--"])
# Three parts and two separators, with or without a time: most such texts are dates or nearly.
SHAPED = st.tuples(_PART, _SEPARATOR, _PART, _SEPARATOR, _PART,
                   st.sampled_from(["", " 00:00", "T10:00:00Z", " 1:00:00", ".5", " "])
                   ).map("".join)
# Two parts: a month and a year ("Jun-10", "June 2010"), or nearly.
SHAPED_MONTH = st.tuples(_PART, _SEPARATOR, _PART).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(SHAPED, SHAPED_MONTH,
                          st.lists(st.sampled_from(DATE_PIECES), max_size=7).map("".join),
                          st.text(alphabet="0123456789/-.: TZaprSept", max_size=14)),
                max_size=12, unique=True),
       st.sampled_from(["DMY", "MDY"]))
def test_the_one_at_a_time_parse_of_ascii_dates_equals_the_vectorised_parse(texts, order):
    """New ASCII date texts are parsed one at a time (_parse_ascii); the rest by the
    vectorised parse. Both must give the same date, validity, precision and flag."""
    from schemas.dates import _parse_distinct, _parse_new

    fast = _parse_new(texts, order)
    vectorised = _parse_distinct(pd.Series(pd.array([*texts, pd.NA], dtype="string")), order)
    expected = list(zip(vectorised.dates.tolist(), vectorised.ok.tolist(),
                        vectorised.precision.tolist(), vectorised.non_standard.tolist(),
                        strict=True))
    assert len(fast) == len(expected)
    for text, got, want in zip([*texts, None], fast, expected, strict=True):
        assert (pd.isna(got[0]) and pd.isna(want[0])) or got[0] == want[0], text
        assert got[1:2] == want[1:2] and got[3] == want[3], text
        assert (pd.isna(got[2]) and pd.isna(want[2])) or got[2] == want[2], text


def test_a_non_ascii_date_takes_the_vectorised_parse():
    parsed = parse_dates(pd.Series(["\u00a031/12/2023", "1 d\u00e9cembre 2023"], dtype="string"))
    assert parsed.dates.iloc[0] == pd.Timestamp("2023-12-31")
    assert not bool(parsed.ok.iloc[1])
