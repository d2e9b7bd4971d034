"""Resolve payee spellings to organisations: ids first, then curated, exact and fuzzy names.

Every decision records its method (id, curated, exact, fuzzy) and a confidence, and a payee that
is itself a registry publisher is linked to it, through registry names, org-ids and the
1,775 alternative council names of the local-authority reference.
"""

import csv
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from schemas.redaction import redaction_reasons
from sources.registry import Registry
from warehouse.suppliers import payee_key

CURATED_PATH = Path(__file__).with_name("curated_suppliers.yaml")
COUNCIL_NAMES = Path(__file__).with_name("data") / "council_names.csv"
FUZZY_THRESHOLD = 0.93
# A shorter spelling that is the start of a longer one is the same organisation only when it
# is long enough to be specific ("northmoor building maint" vs "... maintenance").
PREFIX_MIN_CHARS = 14
# Councils' own abbreviations, tried only when matching a payee to a registry publisher.
ABBREVIATIONS = {
    "cc": ("county council", "city council"), "mbc": ("metropolitan borough council",),
    "bc": ("borough council",), "dc": ("district council",),
    "mdc": ("metropolitan district council",), "c": ("council",),
}
_COMPANY = re.compile(r"^(?:(\d{1,8})|([A-Z]{2})(\d{1,6}))$")
_CHARITY = re.compile(r"^(\d{6,8})(?:-\d{1,2})?$")


@dataclass(frozen=True)
class PayeeRecord:
    """A payee as one payment names it."""

    name: str | None
    company_number: str | None = None
    charity_number: str | None = None


@dataclass(frozen=True)
class Resolution:
    """Which organisation a payee is, how that was decided and how sure it is."""

    supplier_id: str | None
    publisher_id: str | None
    method: str  # id, curated, exact, fuzzy, none, redacted
    confidence: float
    key: str | None = None


def name_id(key: str) -> str:
    """The id of an organisation known only by its name: MT-moorland-energy-supply."""
    return "MT-" + key.replace(" ", "-")


def company_org_id(number: str | None) -> str | None:
    """GB-COH org-id from a Companies House number: digits zero-padded to 8, 'SC123' kept."""
    text = re.sub(r"\s+", "", str(number or "")).upper()
    match = _COMPANY.match(text)
    if not match or text.strip("0") == "":
        return None
    if match.group(1):
        return f"GB-COH-{int(match.group(1)):08d}"
    return f"GB-COH-{match.group(2)}{int(match.group(3)):06d}"


def charity_org_id(number: str | None) -> str | None:
    """GB-CHC org-id from a Charity Commission number (a '-1' subsidiary suffix dropped)."""
    text = re.sub(r"\s+", "", str(number or ""))
    match = _CHARITY.match(text)
    return f"GB-CHC-{int(match.group(1))}" if match else None


class Resolver:
    """Resolves payees one by one, remembering the keys it has seen for fuzzy matching."""

    def __init__(self, registry: Registry | None = None, curated: Path = CURATED_PATH) -> None:
        self.publisher_by_key: dict[str, str] = {}
        self.publisher_by_org_id: dict[str, str] = {}
        self.curated: dict[str, tuple[str, str | None]] = {}
        self.pseudonyms: set[str] = set()
        self.apart: set[frozenset[str]] = set()
        self.seen: dict[str, list[str]] = {}  # first word -> keys, for fuzzy blocking
        self.anchor: dict[str, str] = {}  # key -> supplier id it resolved to
        if registry is not None:
            self._index_publishers(registry)
        self._load_curated(curated)

    def resolve(self, record: PayeeRecord) -> Resolution:
        name = (record.name or "").strip()
        if not name:
            return Resolution(None, None, "none", 0.0)
        key = payee_key(name)
        if _is_redacted(name) or _plain(name) in self.pseudonyms:
            return Resolution(None, None, "redacted", 1.0)
        by_id = self._by_number(record, key)
        if by_id:
            return by_id
        if key in self.curated:
            supplier_id, publisher_id = self.curated[key]
            return Resolution(supplier_id, publisher_id, "curated", 1.0, key)
        publisher_id = self._publisher_named(key)
        if publisher_id:
            return Resolution(f"MT-PUB-{publisher_id}", publisher_id, "exact", 0.97, key)
        if key in self.anchor:
            return Resolution(self.anchor[key], self._publisher_of(self.anchor[key]), "exact",
                              0.95, key)
        return self._fuzzy_or_new(key)

    def _publisher_named(self, key: str) -> str | None:
        """The publisher a key names, reading council abbreviations ('Leeds CC', 'Bury MBC')."""
        words = key.rsplit(" ", 1)
        expansions = ABBREVIATIONS.get(words[-1], ()) if len(words) == 2 else ()
        for candidate in (key, *(f"{words[0]} {full}" for full in expansions)):
            if candidate in self.publisher_by_key:
                return self.publisher_by_key[candidate]
        return None

    def _by_number(self, record: PayeeRecord, key: str) -> Resolution | None:
        org_id = company_org_id(record.company_number) or charity_org_id(record.charity_number)
        if not org_id:
            return None
        publisher_id = self.publisher_by_org_id.get(org_id) or self.publisher_by_key.get(key)
        self._remember(key, org_id)
        return Resolution(org_id, publisher_id, "id", 1.0, key)

    def _fuzzy_or_new(self, key: str) -> Resolution:
        best, score = self._closest(key)
        if best is not None:
            supplier_id = self.anchor[best]
            self._remember(key, supplier_id)
            return Resolution(supplier_id, self._publisher_of(supplier_id), "fuzzy",
                              round(score, 3), key)
        supplier_id = name_id(key)
        self._remember(key, supplier_id)
        return Resolution(supplier_id, None, "exact", 0.9, key)

    def _closest(self, key: str) -> tuple[str | None, float]:
        best, best_score = None, 0.0
        for other in self.seen.get(key.split(" ")[0], ()):
            if frozenset((key, other)) in self.apart:
                continue
            score = _similarity(key, other)
            if score > best_score:
                best, best_score = other, score
        return (best, best_score) if best_score >= FUZZY_THRESHOLD else (None, 0.0)

    def _remember(self, key: str, supplier_id: str) -> None:
        if key and key not in self.anchor:
            self.anchor[key] = supplier_id
            self.seen.setdefault(key.split(" ")[0], []).append(key)

    def _publisher_of(self, supplier_id: str) -> str | None:
        if supplier_id.startswith("MT-PUB-"):
            return supplier_id.removeprefix("MT-PUB-")
        return self.publisher_by_org_id.get(supplier_id)

    def _index_publishers(self, registry: Registry) -> None:
        codes = _council_names()
        for publisher in registry:
            self.publisher_by_org_id[publisher.org_id] = publisher.id
            for name in (publisher.name, *codes.get(publisher.org_id, ())):
                key = payee_key(name)
                if key:
                    self.publisher_by_key.setdefault(key, publisher.id)
                    self._remember(key, f"MT-PUB-{publisher.id}")

    def _load_curated(self, path: Path) -> None:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        for entry in data.get("matches") or []:
            publisher_id = entry.get("publisher_id")
            supplier_id = entry.get("org_id") or (
                f"MT-PUB-{publisher_id}" if publisher_id else name_id(payee_key(entry["name"])))
            for spelling in [entry["name"], *entry.get("spellings", [])]:
                self.curated[payee_key(spelling)] = (supplier_id, publisher_id)
        # Compared as written (bar case and spacing): THIRD PARTY LTD is a real company.
        self.pseudonyms = {_plain(p) for p in data.get("pseudonyms") or []}
        for left, right in data.get("non_matches") or []:
            self.apart.add(frozenset((payee_key(left), payee_key(right))))


def _similarity(key: str, other: str) -> float:
    shorter, longer = sorted((key, other), key=len)
    if len(shorter) >= PREFIX_MIN_CHARS and " " in shorter and longer.startswith(shorter):
        return FUZZY_THRESHOLD
    return SequenceMatcher(None, key, other, autojunk=False).ratio()


def _plain(name: str) -> str:
    return " ".join(name.casefold().split())


def _is_redacted(name: str) -> bool:
    return bool(redaction_reasons(pd.Series([name], dtype="string")).notna().iloc[0])


@lru_cache(maxsize=1)
def _council_names() -> dict[str, tuple[str, ...]]:
    """GB-LAE/GB-LAS/GB-PLA/GB-LANI org-id → every name the reference knows it by."""
    names: dict[str, list[str]] = {}
    if COUNCIL_NAMES.exists():
        with COUNCIL_NAMES.open(encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                names.setdefault(row["org_id"], []).append(row["name"])
    return {org_id: tuple(values) for org_id, values in names.items()}
