"""Spot payments to private individuals whose names should not have been published.

The rules and word lists are in privacy.yaml. The warehouse keeps the name and the reason
(`payments.personal_data`); the published site shows the payee as withheld; `moneytrail
validate` tells the publisher how many rows and where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from schemas.redaction import is_redaction_marker
from sources.yamlfiles import read_yaml

RULES_PATH = Path(__file__).with_name("privacy.yaml")
# Reasons, in the order they are tried.
REASONS = ("title", "type", "category", "name")
# The spend fields whose text says what a payment was for: a category that pays people.
CONTEXT_FIELDS = ("ExpenseType", "ServiceCategoryLabel", "Purpose", "Narrative",
                  "CategoryInternalName", "ProclassLabel")
# What the published site shows instead of a personal payee's name.
WITHHELD = "Private individual (name withheld by moneytrail)"
# The word lists of privacy.yaml, each read as a set of words.
WORD_LISTS = ("titles", "leading_titles", "stopwords", "particles", "suffixes", "acronyms",
              "legal_forms", "not_initials", "place_words", "forenames", "noun_forenames",
              "surnames")


@dataclass(frozen=True)
class _Rules:
    words: dict[str, frozenset[str]]
    patterns: dict[str, re.Pattern]


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    data = read_yaml(RULES_PATH)
    words = {name: frozenset(data[name].split()) for name in WORD_LISTS}
    return _Rules(words, {
        "type": _any(data["individual_types"]),
        "organisation type": re.compile(rf"(?:{'|'.join(data['organisation_types'])})"),
        "category": _any(data["categories"]),
        "role": _any(data["person_roles"] + data["categories"]),
        "prefix": _any(data["person_prefixes"]),
        "cut": re.compile(data["cut"], re.IGNORECASE),
        "organisation": re.compile(
            rf"\b(?:{'|'.join(data['organisation_markers'].split())})(?!\w)"
            rf"|\b[a-z]+'s\b|\b(?:{'|'.join(map(re.escape, data['eponymous']))})\b"
            r"|\b(?:[a-z]+\d|\d+[a-z])\w*|\b\d\d?\b"),  # 'Dave's', 'A1 Skips', 'Studio 54'
        **_shapes(words),
    })


def _any(patterns: list[str]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def _either(words: frozenset[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


def _shapes(words: dict[str, frozenset[str]]) -> dict[str, re.Pattern]:
    """The shapes of a person's name, matched on the payee as _read leaves it: lower case,
    single spaces, initials as single letters."""
    forename = rf"(?:{_either(words['forenames'])})(?:-[a-z]+)?"
    common = _either(words["surnames"])
    after_surname = _either(words["forenames"] - words["noun_forenames"])
    surname = rf"(?:(?:{_either(words['particles'])}) ){{0,2}}[a-z][a-z'-]*[a-z]"
    initials = r"[a-z](?: [a-z]){0,2}"
    couple = r"(?: (?:&|and) [a-z](?: [a-z])?)?"
    partner = r"(?: (?:&|and) [a-z][a-z'-]*)?"  # 'Kamal & Rubina Khan'
    return {
        # 'J Smith', 'P H Jones', 'J & K Smith'; 'JA Smith' before a common surname only.
        "initials first": re.compile(rf"^(?P<initials>{initials}{couple}) {surname}$"),
        "joined first": re.compile(rf"^(?P<initials>[a-z]{{2}}) (?:{common})$"),
        # 'SMITH J', 'Smith, J. A.', 'SYMONS G & J', 'ANNING BJ'.
        "surname first": re.compile(
            rf"^{surname} (?P<initials>[a-z](?: [a-z])?{couple}|[a-z]{{2}})$"),
        # 'John Smith', 'Mary Ellen Smith-Jones', 'Jean-Luc van Dyke', 'Kamal & Rubina Khan'.
        "forename first": re.compile(
            rf"^{forename}(?: (?:{forename}|[a-z])){{0,2}}{partner} {surname}$"),
        # 'Tendai Moyo', 'Bronwen Tudor-Evans', 'Davinder Singh Sandhu': a word that is not a
        # surname too ('Walker Morris'), then one or two common surnames.
        "before a surname": re.compile(
            rf"^(?!(?:{common}) )[a-z][a-z'-]+(?: (?:{common}))? (?:[a-z'-]+-)?(?:{common})$"),
        # 'Obi, Chukwuemeka', 'Lindqvist, Ingrid M'.
        "comma": re.compile(r"^[a-z][a-z'-]+ [a-z][a-z'-]+(?: [a-z])?$"),
        # 'SMITH JOHN', 'Kowalczyk Anna', 'SMITH JOHN A'; not 'Amazing Grace'.
        "forename last": re.compile(
            rf"^{surname} (?:{after_surname})(?: (?:{forename}|[a-z]))?$"),
        # In a category that pays people: any two words, or 'The Boulters' (a family).
        "words": re.compile(r"^[a-z][a-z'-]* [a-z][a-z'-]*$"),
        "family": re.compile(r"^the [a-z'-]+(?:s| family)$"),
    }


def personal_reason(payee: str | None, beneficiary_type: str | None = None,
                    context: str | None = None) -> str | None:
    """Why this payee looks like a private individual (one of REASONS), or None.

    context is the row's category text: expense type, service, purpose, narrative.
    """
    name = " ".join(str(payee or "").split())
    settled, person, named = _by_name(name)
    if settled is not _OPEN:
        return settled
    return _by_row(person, named, _kind(beneficiary_type), _pays_people(context))


# What the name alone leaves open, for the row's type and category to settle.
_OPEN = "open"


@dataclass(frozen=True)
class _Read:
    """A payee cell as read: the name, lower case with initials as single letters, and the
    roles written beside it ('(foster carer)', '- Personal Budget', 'Estate of the late')."""

    name: str
    role: str
    prefixed: bool
    comma: bool  # 'Obi, Chukwuemeka': a surname, then a comma


@lru_cache(maxsize=1 << 16)  # a publisher pays the same payees file after file, chunk after chunk
def _by_name(name: str) -> tuple[str | None, bool, bool]:
    """(reason, or None, or _OPEN; whether the name could be a person's in a category that
    pays people; whether it is shaped like a person's name)."""
    if not name or is_redaction_marker(name):
        return None, False, False
    rules = _rules()
    read = _read(name, rules)
    if _organisation(read.name, rules):
        return None, False, False
    if _titled(read.name.split(), rules.words):
        return "title", False, False
    named = _named(read, rules)
    person = named or _could_be(read.name, rules)
    if _in_a_role(read, rules) and (person or _NAME_WORD.fullmatch(read.name)):
        return "category", False, False
    if read.role and _organisation(read.role, rules):
        return None, False, False
    return _OPEN, person, named


def _in_a_role(read: _Read, rules: _Rules) -> bool:
    """The cell says the payee is a person paid as one: '(foster carer)', 'Estate of the late'."""
    return read.prefixed or bool(read.role and rules.patterns["role"].search(read.role))


_APOSTROPHES = re.compile(r"[’`´‘]")
# Supplier numbers and masked references publishers append: '[17340]', '_****3201', '(200398)'.
_NOISE = re.compile(r"\[[^\]]*\]|_?\*{2,}\w*|\(\s*[\d\W]*\)|(?<![\w/.])\d{3,}(?![\w/])")
_BRACKETED = re.compile(r"\(([^)]*)\)?")
_DASH = re.compile(r"\s+[-–—]+\s+|\s*[–—]\s*")
_JOINED_INITIAL = re.compile(r"\b([a-z])\.(?=[a-z])")
_SPACED = re.compile(r"[.,;:]+|\s+")
_NAME_WORD = re.compile(r"[a-z][a-z'-]+")


def _read(name: str, rules: _Rules) -> _Read:
    text = _NOISE.sub(" ", _APOSTROPHES.sub("'", name.casefold()))
    roles = _BRACKETED.findall(text)
    text = _BRACKETED.sub(" ", text)
    text, *tail = _DASH.split(text, maxsplit=1)
    roles += tail
    head, comma, after = text.partition(",")
    if comma and rules.patterns["role"].search(after):
        text, roles, comma = head, roles + [after], ""
    text = rules.patterns["cut"].sub("", text)
    prefix = rules.patterns["prefix"].match(text.strip())
    if prefix:
        text = text.strip()[prefix.end():]
    words = _words(text, rules.words)
    role = " ".join(r.strip() for r in roles if r.strip())
    if role and set(_words(role, rules.words)) <= rules.words["titles"]:
        words, role = words + _words(role, rules.words), ""  # 'SMITH J (MRS)'
    surname_first = bool(comma) and len(head.split()) == 1 and prefix is None
    return _Read(" ".join(words), role, prefix is not None, surname_first)


def _words(text: str, words: dict[str, frozenset[str]]) -> list[str]:
    """The words of a name: 'K.Moore' is 'k moore', '&' and '+' a word, 'Jnr' gone."""
    text = _JOINED_INITIAL.sub(r"\1 ", text).replace("+", " & ").replace("&", " & ")
    return [w for w in _SPACED.split(text) if w and w not in words["suffixes"]]


# Three or more letters spaced out: 'MADE WELL C I C', 'H M R C'.
_SPELT_OUT = re.compile(r"\b[a-z](?: [a-z]\b){2,}")


def _organisation(text: str, rules: _Rules) -> bool:
    joined = _SPELT_OUT.sub(lambda found: found[0].replace(" ", ""), text)
    return rules.patterns["organisation"].search(joined) is not None


def _titled(words: list[str], lists: dict[str, frozenset[str]]) -> bool:
    """A personal title with a name: 'Mr J Smith', 'JONES MR D', 'Mr & Mrs Jones', 'Sir John
    Smith'; a title found only first ('Lady') has no place word with it ('Lady Bay House')."""
    leading = bool(words) and words[0] in lists["leading_titles"]
    titled = any(w in lists["titles"] for w in words)
    rest = [w for i, w in enumerate(words) if w not in lists["titles"]
            and not (i == 0 and leading) and w not in ("&", "and")]
    if not (titled or leading) or not 1 <= len(rest) <= 4:
        return False
    if any(not w[0].isalpha() or w in lists["stopwords"] for w in rest):
        return False
    return titled or not any(w in lists["place_words"] for w in rest)


def _named(read: _Read, rules: _Rules) -> bool:
    """Shaped like a person's name; a forename and a place word is a building."""
    name, words, patterns = read.name, rules.words, rules.patterns
    if any(w in words["stopwords"] for w in name.split()):
        return False
    for shape in ("initials first", "joined first", "surname first"):
        found = patterns[shape].match(name)
        if found and not _acronym(found["initials"], words, shape == "surname first"):
            return True
    if any(w in words["place_words"] for w in name.split()):
        return False
    if read.comma and patterns["comma"].match(name):
        return True
    shapes = ("forename first", "forename last", "before a surname")
    return any(patterns[shape].match(name) for shape in shapes)


def _acronym(initials: str, words: dict[str, frozenset[str]], after_a_word: bool) -> bool:
    """Whether letters read as initials spell an organisation ('C V S', 'BT'), a legal form
    after a name ('DRAGADOS S A') or, run together, a word ('SLI.DO')."""
    letters = [w for w in initials.split() if w not in ("&", "and")]
    joined = "".join(letters)
    return joined in words["acronyms"] or (after_a_word and joined in words["legal_forms"]) or (
        len(letters) == 1 and joined in words["not_initials"])


def _could_be(name: str, rules: _Rules) -> bool:
    """In a category that pays people: two words with no place or stop word."""
    if rules.patterns["family"].match(name):
        return True
    plain = set(name.split()).isdisjoint(rules.words["place_words"] | rules.words["stopwords"])
    return plain and rules.patterns["words"].match(name) is not None


def _by_row(person: bool, named: bool, kind: str | None, pays_people: bool) -> str | None:
    if kind == "individual":
        return "type"
    if kind == "organisation":  # the publisher says so: the name's shape is not enough
        return None
    if pays_people and person:
        return "category"
    return "name" if named else None


_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=1 << 16)
def _kind(beneficiary_type: str | None) -> str | None:
    """What the file's BeneficiaryType says: 'individual', 'organisation' or nothing."""
    if not beneficiary_type:
        return None
    patterns = _rules().patterns
    if patterns["type"].search(beneficiary_type):
        return "individual"
    text = _NOT_ALPHANUMERIC.sub(" ", beneficiary_type.casefold()).strip()
    return "organisation" if patterns["organisation type"].fullmatch(text) else None


@lru_cache(maxsize=1 << 16)
def _pays_people(context: str | None) -> bool:
    return bool(context) and _rules().patterns["category"].search(context) is not None


def personal_reasons(payees: pd.Series, beneficiary_types: pd.Series | None = None,
                     contexts: pd.Series | list[pd.Series] | None = None,
                     known: dict | None = None) -> pd.Series:
    """personal_reason for each row (NA where none), deciding each distinct value once.

    `contexts` is the row's category text: one column, or several (the row is in a category
    that pays people when any of them says so). Payee, type and category text are each decided
    per distinct value, then combined. `known` keeps those decisions from chunk to chunk of a
    file (a validator passes the same dict for every chunk): its payees and categories repeat.
    """
    known = {} if known is None else known
    index = payees.index
    by_name = _distinct(payees, lambda p: _by_name(" ".join(p.split())),
                        known.setdefault("name", {}))
    kinds = _distinct(_text(beneficiary_types, index), _kind, known.setdefault("type", {}))
    columns = contexts if isinstance(contexts, list) else [contexts]
    pays_people = [False] * len(index)
    for column in columns:
        if column is not None:
            decided = _distinct(column, _pays_people, known.setdefault("category", {}))
            pays_people = [a or b for a, b in zip(pays_people, decided, strict=True)]
    result = [
        settled if settled is not _OPEN else _by_row(person, named, kind, is_category)
        for (settled, person, named), kind, is_category
        in zip(by_name, kinds, pays_people, strict=True)
    ]
    return pd.Series(result, index=index, dtype="string")


def _distinct(values: pd.Series, decide, known: dict) -> list:
    """decide(text) for each value (empty text for a missing one), called once per distinct
    text, remembered in `known`."""
    codes, uniques = pd.factorize(values.astype("string"))
    texts = uniques.tolist()
    for text in texts:
        if text not in known:
            known[text] = decide(str(text))
    decided = [known[text] for text in texts] + [decide("")]  # code -1: a missing value
    return [decided[code] for code in codes.tolist()]


def context_columns(frame: pd.DataFrame, columns: tuple[str, ...] = CONTEXT_FIELDS
                    ) -> list[pd.Series]:
    """The row's category text: those of the given columns the frame has."""
    return [frame[c] for c in columns if c in frame]


def _text(values: pd.Series | None, index: pd.Index) -> pd.Series:
    if values is None:
        return pd.Series(pd.NA, index=index, dtype="string")
    return values.astype("string")
