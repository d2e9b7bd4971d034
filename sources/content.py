"""Say what a column holds from a sample of its cells: amounts, dates, names or codes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from schemas.dates import reads_as_date
from schemas.money import reads_as_money
from sources.rows import BLANK_CHARS

# Cells looked at per column; a file's first rows are its sample.
SAMPLE_ROWS = 200
# A share of a column's filled cells this high makes it a column of that kind.
MOSTLY = 0.5
_LETTERS = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")
_PENCE = re.compile(r"[.,]\d{1,2}\)?-?\s*$|,\d{3}")


class CellKind(NamedTuple):
    """What one cell's text is: money, written with pence or thousands separators, a date
    (written as one, or a bare Excel serial), text with words. A tuple of flags, which the
    garbage collector stops tracking: tens of thousands are remembered."""

    money: bool
    pence: bool
    date: bool
    written_date: bool
    words: bool


@lru_cache(maxsize=1 << 16)
def cell_kind(text: str) -> CellKind:
    date, written = reads_as_date(text)
    money = reads_as_money(text)
    # A code ('MODGPC142356', 'PO123') has letters but is not words: one token with digits.
    code = " " not in text and any(c.isdigit() for c in text)
    return CellKind(money, money and _PENCE.search(text) is not None, date, written,
                    _LETTERS.search(text) is not None and not written and not code)


@dataclass(frozen=True)
class ColumnProfile:
    """Counts over a column's sampled cells."""

    cells: int = 0
    filled: int = 0
    money: int = 0
    pence: int = 0
    dates: int = 0
    written_dates: int = 0
    words: int = 0

    def share(self, count: int) -> float:
        return count / self.filled if self.filled else 0.0

    @property
    def empty(self) -> bool:
        return self.cells > 0 and self.filled == 0

    def holds(self, kind: str) -> bool:
        """Whether the column holds mostly `kind` (money, date or text), or is empty."""
        if not self.filled:
            return True
        if kind == "money":
            return self.share(self.money) >= MOSTLY and self.share(self.written_dates) < MOSTLY
        if kind == "date":
            return self.share(self.dates) >= MOSTLY
        if kind == "text":
            return self.share(self.words) >= MOSTLY
        return True

    def describe(self) -> str:
        """What the column holds, for a report: 'empty', 'amounts', 'dates', 'text' ..."""
        if not self.filled:
            return "nothing (empty)"
        for count, what in ((self.written_dates, "dates"), (self.pence, "amounts"),
                            (self.money, "numbers"), (self.words, "text")):
            if self.share(count) >= MOSTLY:
                return what
        return "mixed values"


def profile_columns(rows: Sequence[Sequence[str]], width: int) -> list[ColumnProfile]:
    """A profile of each of `width` columns over the given rows (at most SAMPLE_ROWS)."""
    sample = rows[:SAMPLE_ROWS]
    return [_profile([row[i] if i < len(row) else "" for row in sample]) for i in range(width)]


def _profile(cells: list[str]) -> ColumnProfile:
    texts = [text for cell in cells if (text := cell.strip(BLANK_CHARS))]
    kinds = [cell_kind(text) for text in texts]
    return ColumnProfile(
        cells=len(cells), filled=len(texts),
        money=sum(k.money for k in kinds), pence=sum(k.pence for k in kinds),
        dates=sum(k.date for k in kinds), written_dates=sum(k.written_date for k in kinds),
        words=sum(k.words for k in kinds))
