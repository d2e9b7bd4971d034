"""Parse money as published (£, commas, brackets, trailing minus) into exact integer pence."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pandas as pd

# Characters a publisher may wrap round a number without changing it.
_NOISE = r"[\s\u00a0£,]"
_NUMBER = r"^([+-]?)(\d*)(?:\.(\d*))?$"
_EXPONENT = r"^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$"
# Beyond this the integer part cannot be real money and would overflow 64-bit pence.
MAX_POUND_DIGITS = 15
_NON_STANDARD = r"[£,()]|-$|^\+|\s"


@dataclass
class ParsedMoney:
    """Pence per cell: `pence` is NA where a cell is empty or not money; `ok` is False only
    for a non-empty cell that is not money; `rounded` marks cells with fractions of a penny;
    `non_standard` marks money written other than as the Code asks (-1234.50)."""

    pence: pd.Series
    ok: pd.Series
    rounded: pd.Series
    non_standard: pd.Series


def parse_pence(values: pd.Series) -> ParsedMoney:
    """Parse a column of money strings to integer pence without touching a float.

    Fractions of a penny round half away from zero, e.g. 653.625 -> 65363.
    """
    text = values.astype("string").str.strip()
    empty = text.isna() | (text == "")
    compact = text.str.replace(_NOISE, "", regex=True)
    bracketed = compact.str.fullmatch(r"\(.*\)").fillna(False)
    compact = compact.mask(bracketed, compact.str.slice(1, -1))
    trailing = compact.str.fullmatch(r"[^-].*-").fillna(False)
    compact = compact.mask(trailing, compact.str.slice(0, -1))
    parts = compact.str.extract(_NUMBER)
    sign, whole, fraction = parts[0], parts[1].fillna(""), parts[2].fillna("")
    matched = parts[0].notna() & ((whole != "") | (fraction != "")) & ~empty
    matched &= whole.str.len() <= MAX_POUND_DIGITS
    whole = whole.where(matched & (whole != ""), "0")
    pennies = fraction.where(matched, "").str.slice(0, 2).str.pad(2, side="right", fillchar="0")
    round_up = fraction.where(matched, "").str.slice(2, 3) >= "5"
    magnitude = (
        pd.to_numeric(whole).astype("int64") * 100
        + pd.to_numeric(pennies).astype("int64")
        + round_up.astype("int64")
    )
    negative = (sign == "-") | bracketed | trailing
    pence = magnitude.where(~negative, -magnitude).astype("Int64").where(matched)
    rounded = matched & fraction.str.slice(2).str.strip("0").ne("")
    pence, matched, rounded = _exponents(compact, pence, matched, rounded, empty)
    return ParsedMoney(
        pence=pence,
        ok=(matched | empty).astype(bool),
        rounded=rounded.astype(bool),
        non_standard=(matched & text.str.contains(_NON_STANDARD, regex=True)).astype(bool),
    )


def _exponents(compact, pence, matched, rounded, empty):
    # Scientific notation ("2.3E-10") only comes from spreadsheet exports and is rare, so it
    # takes the slow exact path through Decimal.
    exponent = ~matched & ~empty & compact.str.fullmatch(_EXPONENT).fillna(False)
    if not exponent.any():
        return pence, matched, rounded
    for index, text in compact[exponent].items():
        try:
            value = Decimal(text) * 100
        except InvalidOperation:
            continue
        whole = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        pence.loc[index] = int(whole)
        matched.loc[index] = True
        rounded.loc[index] = whole != value
    return pence, matched, rounded


def pence_to_pounds(pence: int) -> str:
    """Render pence for people, e.g. 123456789 -> '£1,234,567.89'."""
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100:,}.{abs(pence) % 100:02d}"


def pence_to_text(pence: int) -> str:
    """Render pence as the Code's plain pounds, e.g. -123456 -> '-1234.56'."""
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"
