"""Parse money as published (£, commas, brackets, trailing minus) into exact integer pence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Characters a publisher may wrap round a number without changing it. A "$" is a system
# export's habit (MoJ's ARAMIS writes "$5,531,458.39 " for pounds), not dollars: a UK
# spending file is in sterling.
# "Â£" is a UTF-8 pound sign read as cp1252 by some step before publication.
_NOISE = re.compile(r"[\s\u00a0£$,Â]")
# A currency code before or after the number ("GBP 1,234.50"), and an accountant's credit
# marker after it ("1,234.50 CR" is a credit: negative).
_CODE = re.compile(r"^(?:GBP|UKL|STG)|(?:GBP|UKL|STG)$", re.IGNORECASE)
_CREDIT = re.compile(r"(?<=[0-9.)])\s*CR$", re.IGNORECASE)
# ASCII digits only: int() would also read other scripts' digits ("١٢٣") as money.
_NUMBER = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?$")
_EXPONENT = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+$")
# Beyond this the integer part cannot be real money and would overflow 64-bit pence.
MAX_POUND_DIGITS = 15
MAX_PENCE = 10 ** (MAX_POUND_DIGITS + 2)
_NON_STANDARD = re.compile(r"[£$,()]|-$|^\+|\s|GBP|UKL|STG|CR$", re.IGNORECASE)
# Money written as the Code asks, in pounds and whole pence.
_PLAIN = re.compile(rf"(-?)([0-9]{{1,{MAX_POUND_DIGITS}}})\.([0-9]{{2}})")


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
    text = _arrow_text(values)
    if text is None:
        return _parse_each(values)
    # Nearly every amount is plain money ("-1234.50", or so once its £ and commas are gone)
    # and nearly every one is different, so these are read by Arrow's kernels a column at a
    # time, exactly as _parse's fast paths read them one at a time. Only the other cells go
    # through _parse, each distinct text once.
    bare = text
    for mark in (",", "£", "$"):
        bare = pc.replace_substring(bare, mark, "")
    parts = pc.extract_regex(bare, _PLAIN_ARROW)
    plain = _numpy(pc.is_valid(parts), False)
    negative = _numpy(pc.equal(pc.struct_field(parts, "sign"), "-"), False)
    whole = _numpy(pc.cast(pc.struct_field(parts, "whole"), pa.int64()), 0)
    fraction = _numpy(pc.cast(pc.struct_field(parts, "fraction"), pa.int64()), 0)
    amounts = np.where(negative, -1, 1) * (whole * 100 + fraction)
    non_standard = plain & _numpy(pc.not_equal(bare, text), False)
    missing = _numpy(pc.is_null(text), False)
    ok = np.ones(len(values), dtype=bool)
    rounded = np.zeros(len(values), dtype=bool)
    other = np.flatnonzero(~plain & ~missing)
    if len(other):
        found = _parse_each(values.iloc[other])
        missing[other] = found.pence.isna().to_numpy()
        amounts[other] = found.pence.fillna(0).to_numpy(dtype="int64")
        ok[other] = found.ok.to_numpy()
        rounded[other] = found.rounded.to_numpy()
        non_standard[other] = found.non_standard.to_numpy()
    index = values.index
    return ParsedMoney(
        pence=pd.Series(pd.arrays.IntegerArray(amounts, missing), index=index),
        ok=pd.Series(ok, index=index), rounded=pd.Series(rounded, index=index),
        non_standard=pd.Series(non_standard, index=index),
    )


# _PLAIN for Arrow's regular expressions (RE2): the whole cell, nothing around it. A cell with
# space around its number is left to _parse, whose strip() knows more kinds of space.
_PLAIN_ARROW = (rf"^(?P<sign>-?)(?P<whole>[0-9]{{1,{MAX_POUND_DIGITS}}})"
                r"\.(?P<fraction>[0-9]{2})$")


def _arrow_text(values: pd.Series) -> pa.ChunkedArray | None:
    """A column's Arrow text, when pandas holds it as Arrow strings (pyarrow is installed)."""
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        return pa.chunked_array(values.array.__arrow_array__())
    return None


def _numpy(column: pa.ChunkedArray, fill) -> np.ndarray:
    """A column as a numpy array of its own (writable), its nulls filled."""
    return np.array(pc.fill_null(column, fill).to_numpy())


def _parse_each(values: pd.Series) -> ParsedMoney:
    """parse_pence by _parse alone: each distinct text of the column parsed once."""
    # Code -1 (a missing cell) takes the last entry, None.
    codes, distinct = pd.factorize(values.astype("string"))
    pence, ok, rounded, non_standard = zip(*map(_parse, [*distinct.tolist(), None]), strict=True)
    missing = np.array([p is None for p in pence])[codes]
    amounts = np.array([p or 0 for p in pence], dtype="int64")[codes]
    index = values.index

    def flags(values: tuple[bool, ...]) -> pd.Series:
        return pd.Series(np.array(values, dtype=bool)[codes], index=index)

    return ParsedMoney(
        pence=pd.Series(pd.arrays.IntegerArray(amounts, missing), index=index),
        ok=flags(ok), rounded=flags(rounded), non_standard=flags(non_standard),
    )


def _parse(value: str | None) -> tuple[int | None, bool, bool, bool]:
    """(pence or None, ok, rounded, non_standard) for one cell's text (None when missing)."""
    text = (value or "").strip()
    plain = _PLAIN.fullmatch(text)
    if plain:  # "-1234.50", as the Code asks: most cells, so they skip the general rules
        pence = int(plain[2]) * 100 + int(plain[3])
        return (-pence if plain[1] else pence), True, False, False
    if not text:
        return None, True, False, False
    plain = _PLAIN.fullmatch(text.replace(",", "").replace("£", "").replace("$", ""))
    if plain:  # "£1,234.50": the same number once its £ and commas are gone
        pence = int(plain[2]) * 100 + int(plain[3])
        return (-pence if plain[1] else pence), True, False, True
    return _general(text)


def _general(text: str) -> tuple[int | None, bool, bool, bool]:
    """_parse for any non-empty text, by the general rules (the fast paths are shortcuts)."""
    # Noise includes every line break, so the bracket and trailing-minus tests need no regex.
    credit = _CREDIT.search(text) is not None
    compact = _NOISE.sub("", _CODE.sub("", _CREDIT.sub("", text.strip())))
    bracketed = len(compact) >= 2 and compact[0] == "(" and compact[-1] == ")"
    if bracketed:
        compact = compact[1:-1]
    trailing = len(compact) >= 2 and compact[0] != "-" and compact[-1] == "-"
    if trailing:
        compact = compact[:-1]
    number = _NUMBER.search(compact)
    if number and (number[2] or number[3]) and len(number[2]) <= MAX_POUND_DIGITS:
        sign, whole, fraction = number[1], number[2], number[3] or ""
        pence = (int(whole or "0") * 100 + int(fraction[:2].ljust(2, "0"))
                 + (fraction[2:3] >= "5"))
        negative = (sign == "-" or bracketed or trailing) != credit
        return ((-pence if negative else pence), True, fraction[2:].strip("0") != "",
                _NON_STANDARD.search(text) is not None)
    exact = _exponent(compact)
    if exact is None:
        return None, False, False, False
    return exact[0], True, exact[1], _NON_STANDARD.search(text) is not None


def _exponent(compact: str) -> tuple[int, bool] | None:
    """(pence, rounded) for scientific notation ("2.3E-10"), which only spreadsheet exports
    write: the exact path through Decimal."""
    if not _EXPONENT.fullmatch(compact):
        return None
    try:
        value = Decimal(compact) * 100
        whole = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    except ArithmeticError:  # "1e309": too many digits for Decimal to round
        return None
    if abs(whole) >= MAX_PENCE:
        return None
    return int(whole), whole != value


def pence_to_pounds(pence: int) -> str:
    """Render pence for people, e.g. 123456789 -> '£1,234,567.89'."""
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100:,}.{abs(pence) % 100:02d}"


def pence_to_text(pence: int) -> str:
    """Render pence as the Code's plain pounds, e.g. -123456 -> '-1234.56'."""
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def reads_as_money(text: str) -> bool:
    """Whether one cell's text is an amount of money (the reader's test of a column's
    content: sources.content)."""
    return _parse(text)[0] is not None
