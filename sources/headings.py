"""Read a column heading as words and name the spend field they describe, by rules in
headings.yaml: the way in for spellings the crosswalk has never seen."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from sources.yamlfiles import read_yaml

HEADINGS_PATH = Path(__file__).with_name("headings.yaml")
# Rules marked `demote` rank after every other rule: a code column beside its label.
DEMOTED = 1000

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NUMBERED = re.compile(r"^(?:\*\s*|\d{1,2}\s+)")
_NON_WORD = re.compile(r"[^0-9a-z£]+")
# Where digits meet letters a word ends: "6Supplier", "TRANSACTION.NO.7", "Amount2".
_DIGITS_MEET_LETTERS = re.compile(r"(?<=[0-9])(?=[a-z£])|(?<=[a-z£])(?=[0-9])")
# Symbols that are words in a heading: "VAT %", "Invoice #", "Value ($)".
_SYMBOLS = {"%": " percent ", "#": " number ", "$": " $ ", "€": " eur "}


@lru_cache(maxsize=1 << 16)
def header_key(text: str) -> str:
    """Normalise a header so that spellings differing only in case, spacing or punctuation meet.

    >>> header_key("Net Amount(£)") == header_key(" net amount (£) ")
    True

    Remembered per text: finding a file's header scores up to 200 opening rows, and each cell
    is normalised three times while a row is mapped; cells repeat from row to row and file to
    file.
    """
    text = unicodedata.normalize("NFKC", text).strip()
    text = _NUMBERED.sub("", text)
    text = _CAMEL.sub(" ", text)
    return _NON_WORD.sub(" ", text.casefold()).strip()


@dataclass(frozen=True)
class Rule:
    """One line of headings.yaml's rules: the words a heading must (and must not) have."""

    field: str | None
    all: frozenset[str]
    any: frozenset[str]
    none: frozenset[str]
    only: bool
    also: frozenset[str]
    currency: bool
    priority: int

    def fits(self, words: frozenset[str], currency: bool) -> bool:
        if self.currency and not currency:
            return False
        if not self.all <= words or (self.any and not self.any & words) or self.none & words:
            return False
        if self.only and words - self.all - self.any - self.also:
            return False
        return bool(self.all or self.any or self.currency)


class Wording(NamedTuple):
    """A heading read as words: its meaningful words, and whether it names a currency. A
    tuple, which the garbage collector stops tracking: every cell of a file's opening rows
    may be remembered as one."""

    words: tuple[str, ...]
    currency: bool


@dataclass(frozen=True, eq=False)  # hashed by identity: the caches key on the one loaded
class Headings:
    """The word lists and rules of headings.yaml."""

    filler: frozenset[str]
    currencies: frozenset[str]
    synonyms: dict[str, str]
    known: frozenset[str]
    rules: tuple[Rule, ...]
    # What a column mapped to each field must hold: money, date or text (sources.content).
    holds: dict[str, str]

    def field(self, heading: str) -> tuple[str | None, int] | None:
        """(field or None, priority) of the first rule that fits the heading, or None when no
        rule does. A lower priority is the better claim to a field."""
        return _field(self, heading)

    def wording(self, heading: str) -> Wording:
        return _wording(self, heading)


@lru_cache(maxsize=4)
def load_headings(path: Path = HEADINGS_PATH) -> Headings:
    data = read_yaml(path)
    synonyms = {str(k): str(v) for k, v in data["synonyms"].items()}
    rules = tuple(_rule(entry, index) for index, entry in enumerate(data["rules"]))
    meaningful = set(synonyms.values())
    for rule in rules:
        meaningful |= rule.all | rule.any | rule.none | rule.also
    filler = frozenset(str(w) for w in data["filler"])
    currencies = frozenset(str(w) for w in data["currency"])
    known = frozenset(meaningful | set(synonyms) | filler | currencies)
    holds = {str(k): str(v) for k, v in (data.get("holds") or {}).items()}
    return Headings(filler, currencies, synonyms, known, rules, holds)


def _rule(entry: dict, index: int) -> Rule:
    def words(key: str) -> frozenset[str]:
        return frozenset(str(w) for w in entry.get(key) or ())

    return Rule(entry.get("field"), words("all"), words("any"), words("not"),
                bool(entry.get("only")), words("also"), bool(entry.get("currency")),
                index + (DEMOTED if entry.get("demote") else 0))


@lru_cache(maxsize=1 << 16)
def _wording(headings: Headings, heading: str) -> Wording:
    text = heading
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    words: list[str] = []
    currency = False
    for token in _DIGITS_MEET_LETTERS.sub(" ", header_key(text)).split():
        for word in _read_token(headings, token):
            if word in headings.currencies:
                currency = True
            elif word not in headings.filler and not word.isdigit():
                words.append(word)
    return Wording(tuple(words), currency)


@lru_cache(maxsize=1 << 16)
def _field(headings: Headings, heading: str) -> tuple[str | None, int] | None:
    wording = _wording(headings, heading)
    words = frozenset(wording.words)
    if not words and not wording.currency:
        return None
    for rule in headings.rules:
        if rule.fits(words, wording.currency):
            return rule.field, rule.priority
    return None


def _read_token(headings: Headings, token: str) -> list[str]:
    """A token as the known words it stands for: itself, its synonym, the words it runs
    together, or the one known word a slip of the keyboard away."""
    if token in headings.known or token.isdigit():
        return [headings.synonyms.get(token, token)]
    parts = _split(headings.known, token) or [_corrected(headings.known, token) or token]
    return [headings.synonyms.get(part, part) for part in parts]


def _split(known: frozenset[str], token: str, depth: int = 3) -> list[str] | None:
    """Known words that run together into the token ('suppliername'), longest first part
    first; None when it is not made of up to `depth` known words of two letters or more."""
    if len(token) < 5 or depth < 2:
        return None
    for cut in range(len(token) - 2, 1, -1):
        head, rest = token[:cut], token[cut:]
        if head not in known:
            continue
        if rest in known:
            return [head, rest]
        tail = _split(known, rest, depth - 1)
        if tail:
            return [head, *tail]
    return None


def _corrected(known: frozenset[str], token: str) -> str | None:
    """The one known word at the smallest edit distance from a misspelt token, within one
    edit (two from nine letters), or None: 'entitiy' -> 'entity', 'serivce' -> 'service'."""
    if len(token) < 5 or not token.isalpha():
        return None
    limit = 2 if len(token) >= 9 else 1
    near = [(distance, word) for word in known
            if len(word) >= 4 and abs(len(word) - len(token)) <= limit
            and (distance := _edit_distance(token, word, limit + 1)) <= limit]
    if not near:
        return None
    closest = min(distance for distance, _ in near)
    best = [word for distance, word in near if distance == closest]
    return best[0] if len(best) == 1 else None


def _edit_distance(a: str, b: str, cap: int) -> int:
    """Optimal string alignment distance (insertions, deletions, substitutions and swaps of
    neighbours), or a number of at least `cap` once it must be that far."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) >= cap:
            return cap
        previous2, previous = previous, current
    return previous[-1]
