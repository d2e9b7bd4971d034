"""Parse published dates: day first by default, month-first files detected, Excel serials."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

_ISO = r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?$"
_ISO_MONTH = r"^(\d{4})-(\d{1,2})$"
# A month and year only, as Excel's mmm-yy format shows a date: "Jun-10", "June 2010".
_NAMED_MONTH = r"^([A-Za-z]{3,9})\.?[\s\-/,]+(\d{4}|\d{2})$"
_NUMERIC = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"
_NAMED = r"^(\d{1,2})[\s\-/]+([A-Za-z]{3,9})\.?[\s\-/,]+(\d{4}|\d{2})$"
_SERIAL = r"^(\d{5})(?:\.\d+)?$"
_UK = r"^\d{2}/\d{2}/\d{4}$"
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Serials outside this range are more likely amounts or ids than dates (1954 to 2119).
SERIAL_RANGE = (20_000, 80_000)
YEAR_RANGE = (1900, 2199)
# Two-digit years below this are 20yy; the rest 19yy.
CENTURY_PIVOT = 70
MONTHS = {
    name.casefold(): number
    for number in range(1, 13)
    for name in (calendar.month_abbr[number], calendar.month_name[number])
} | {"sept": 9}


@dataclass
class ParsedDates:
    """`dates` is NaT where a cell is empty or not a date; `ok` is False only for a non-empty
    cell that is not a date; `precision` is "day", or "month" for a yyyy-mm value;
    `non_standard` marks dates not written dd/mm/yyyy as the LGA guidance recommends."""

    dates: pd.Series
    ok: pd.Series
    precision: pd.Series
    non_standard: pd.Series


def detect_order(values: pd.Series) -> str:
    """'MDY' when a file's numeric dates only make sense month-first, else 'DMY'.

    A first part above 12 proves day-first; a second part above 12 with no first part above
    12 proves month-first (a real council published one quarter so).
    """
    distinct = pd.Series(pd.unique(values.astype("string").dropna()), dtype="string")
    parts = distinct.str.strip().str.extract(_NUMERIC)
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[1], errors="coerce")
    if (second > 12).any() and not (first > 12).any():
        return "MDY"
    return "DMY"


def proves_day_first(texts: set[str]) -> bool:
    """True when some of these date texts have a first part above 12: detect_order then
    answers 'DMY' for any sample holding them, whatever else it holds."""
    parts = pd.Series(sorted(texts), dtype="string").str.strip().str.extract(_NUMERIC)
    return bool((pd.to_numeric(parts[0], errors="coerce") > 12).any())


def parse_dates(values: pd.Series, order: str = "DMY",
                known: dict[str, tuple] | None = None) -> ParsedDates:
    """Parse a column of date strings in the given order for numeric d/m/y forms.

    `known` remembers each distinct text's parse from chunk to chunk of a file (a validator
    passes the same dict for every chunk): a file writes a few hundred distinct dates however
    many rows it has, so after its first chunk nearly nothing is left to parse.
    """
    known = {} if known is None else known
    codes, distinct = pd.factorize(values.astype("string"))
    texts = distinct.tolist()
    new = [text for text in texts if text not in known]
    if new or _MISSING not in known:
        known.update(zip([*new, _MISSING], _parse_new(new, order), strict=True))
    # Code -1 (a missing cell) takes the last entry, the parse of NA.
    table = [known[text] for text in texts] + [known[_MISSING]]
    index = values.index
    dates, ok, precision, non_standard = (list(part) for part in zip(*table, strict=True))
    return ParsedDates(
        pd.Series(pd.array(dates, dtype="datetime64[s]").take(codes), index=index),
        pd.Series(np.array(ok, dtype=bool)[codes], index=index),
        pd.Series(pd.array(precision, dtype="string").take(codes), index=index),
        pd.Series(np.array(non_standard, dtype=bool)[codes], index=index),
    )


# The key `known` keeps the parse of a missing cell under (no text is the empty tuple).
_MISSING = ()


def _parse_new(texts: list[str], order: str) -> list[tuple]:
    """(date, ok, precision, non_standard) for each text, then for a missing cell.

    Texts are stripped as the column's string backend strips them. ASCII texts, nearly all a
    publisher writes, are then parsed one at a time (_parse_ascii): a chunk's few new dates
    cost microseconds, where the vectorised parse costs some 15 ms however few it is given.
    Anything else takes the vectorised parse, whose pandas and regex semantics the ASCII path
    reproduces (a hypothesis test holds the two to the same results).
    """
    values = pd.Series(pd.array([*texts, pd.NA], dtype="string"))
    stripped = values.str.strip().tolist()
    if all(not isinstance(text, str) or text.isascii() for text in stripped):
        return [_parse_ascii(text, order) for text in stripped]
    parsed = _parse_distinct(values, order)
    return list(zip(parsed.dates.tolist(), parsed.ok.tolist(), parsed.precision.tolist(),
                    parsed.non_standard.tolist(), strict=True))


_PATTERNS = {name: re.compile(pattern) for name, pattern in
             (("iso", _ISO), ("iso_month", _ISO_MONTH), ("numeric", _NUMERIC),
              ("named", _NAMED), ("named_month", _NAMED_MONTH), ("serial", _SERIAL),
              ("uk", _UK))}


def _parse_ascii(text, order: str) -> tuple:
    """_parse_distinct's result for one stripped ASCII text (or NA): the same patterns, tried
    in the same order, the first whose parts are all there deciding the date."""
    if not isinstance(text, str) or text == "":
        return pd.NaT, True, pd.NA, False
    parts, level = None, "day"
    if match := _PATTERNS["iso"].search(text):
        parts = int(match[1]), int(match[2]), int(match[3])
    elif match := _PATTERNS["iso_month"].search(text):
        parts, level = (int(match[1]), int(match[2]), 1), "month"
    elif match := _PATTERNS["numeric"].search(text):
        first, second = (match[1], match[2]) if order == "DMY" else (match[2], match[1])
        parts = _year(match[3]), int(second), int(first)
    elif (match := _PATTERNS["named"].search(text)) and match[2].casefold() in MONTHS:
        parts = _year(match[3]), MONTHS[match[2].casefold()], int(match[1])
    elif (match := _PATTERNS["named_month"].search(text)) and match[1].casefold() in MONTHS:
        parts, level = (_year(match[2]), MONTHS[match[1].casefold()], 1), "month"
    date = pd.NaT
    if parts is not None and YEAR_RANGE[0] <= parts[0] <= YEAR_RANGE[1]:
        try:
            date = pd.Timestamp(dt.date(*parts)).as_unit("s")
        except ValueError:  # no such day, as pandas' to_datetime(errors="coerce") finds
            pass
    if date is pd.NaT and (match := _PATTERNS["serial"].search(text)) \
            and SERIAL_RANGE[0] <= int(match[1]) <= SERIAL_RANGE[1]:
        date, level = (EXCEL_EPOCH + pd.Timedelta(days=int(match[1]))).as_unit("s"), "day"
    if date is pd.NaT:
        return pd.NaT, False, pd.NA, False
    return date, True, level, _PATTERNS["uk"].fullmatch(text) is None


def _year(text: str) -> int:
    """A year as _full_year reads it: two digits are 19yy from CENTURY_PIVOT, else 20yy."""
    year = int(text)
    if len(text) == 2:
        return year + 2000 if year < CENTURY_PIVOT else year + 1900
    return year


def _parse_distinct(values: pd.Series, order: str) -> ParsedDates:
    text = values.astype("string").str.strip()
    empty = text.isna() | (text == "")
    year = pd.Series(pd.NA, index=text.index, dtype="Int64")
    month, day = year.copy(), year.copy()
    precision = pd.Series(pd.NA, index=text.index, dtype="string")

    iso = text.str.extract(_ISO)
    _fill(year, month, day, precision, iso[0], iso[1], iso[2], "day")
    iso_month = text.str.extract(_ISO_MONTH)
    _fill(year, month, day, precision, iso_month[0], iso_month[1], "1", "month")
    numeric = text.str.extract(_NUMERIC)
    first, second = (numeric[0], numeric[1]) if order == "DMY" else (numeric[1], numeric[0])
    _fill(year, month, day, precision, _full_year(numeric[2]), second, first, "day")
    named = text.str.extract(_NAMED)
    month_number = named[1].str.casefold().map(MONTHS, na_action="ignore")
    _fill(year, month, day, precision, _full_year(named[2]), month_number, named[0], "day")
    named_month = text.str.extract(_NAMED_MONTH)
    month_number = named_month[0].str.casefold().map(MONTHS, na_action="ignore")
    _fill(year, month, day, precision, _full_year(named_month[1]), month_number, "1", "month")

    parsed = pd.to_datetime(
        pd.DataFrame({"year": year, "month": month, "day": day}).astype("float64"),
        errors="coerce",
    )
    parsed = parsed.where(year.between(*YEAR_RANGE).fillna(False))
    parsed = _serials(text, parsed, precision)
    ok = parsed.notna() | empty
    precision = precision.where(parsed.notna())
    non_standard = parsed.notna() & ~text.str.fullmatch(_UK).fillna(False)
    return ParsedDates(parsed.astype("datetime64[s]"), ok.astype(bool), precision,
                       non_standard.astype(bool))


def _fill(year, month, day, precision, y, m, d, level: str) -> None:
    found = year.isna() & pd.Series(y, index=year.index).notna()
    if isinstance(m, pd.Series):
        found &= m.notna()
    year[found] = pd.to_numeric(pd.Series(y, index=year.index)[found]).astype("Int64")
    month[found] = _as_int(m, year.index)[found]
    day[found] = _as_int(d, year.index)[found]
    precision[found] = level


def _as_int(value, index) -> pd.Series:
    if not isinstance(value, pd.Series):
        return pd.Series(int(value), index=index, dtype="Int64")
    return pd.to_numeric(value, errors="coerce").astype("Int64")


def _full_year(years: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(years, errors="coerce").astype("Int64")
    short = years.str.len() == 2
    century = numbers.where(numbers >= CENTURY_PIVOT, numbers + 2000)
    century = century.where(numbers < CENTURY_PIVOT, numbers + 1900)
    return numbers.where(~short.fillna(False), century)


def _serials(text: pd.Series, parsed: pd.Series, precision: pd.Series) -> pd.Series:
    serial = pd.to_numeric(text.str.extract(_SERIAL)[0], errors="coerce")
    usable = parsed.isna() & serial.between(*SERIAL_RANGE)
    if usable.any():
        days = pd.to_timedelta(serial[usable], unit="D")
        parsed = parsed.copy()
        parsed[usable] = EXCEL_EPOCH + days
        precision[usable] = "day"
    return parsed


def reads_as_date(text: str) -> tuple[bool, bool]:
    """(whether one cell's stripped ASCII text is a date either way round, whether it is
    written as one rather than an Excel serial, which any five-digit number could be): the
    reader's test of a column's content (sources.content)."""
    if not text.isascii():
        return False, False
    for order in ("DMY", "MDY"):
        found = _parse_ascii(text, order)
        if found[0] is not pd.NaT:
            return True, _PATTERNS["serial"].search(text) is None
    return False, False
