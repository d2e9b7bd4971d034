"""Resolve payee spellings to organisations: ids first, then curated, exact and fuzzy names.

Every decision records its method (id, curated, exact, fuzzy) and a confidence, and a payee that
is itself a registry publisher is linked to it, through registry names, org-ids and the
1,775 alternative council names of the local-authority reference. A publisher's supplier id is
its own org-id, however it was reached.
"""

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from schemas.redaction import is_redaction_marker
from sources.registry import Registry
from sources.yamlfiles import read_yaml
from warehouse.suppliers import acronyms, alias_keys, leading_part, payee_key

CURATED_PATH = Path(__file__).with_name("curated_suppliers.yaml")
COUNCIL_NAMES = Path(__file__).with_name("data") / "council_names.csv"
# Two names are near-identical when every word pairs with a word this alike, in order.
WORD_SIMILARITY = 0.85
# Words that say what kind of council a name is, not which: 'Blackpool Council' is Blackpool.
COUNCIL_WORDS = frozenset({
    "council", "borough", "county", "city", "district", "metropolitan", "metro", "mbc", "bc",
    "cc", "dc", "mdc", "london", "royal"})
COUNCIL_MARKERS = frozenset({"council", "mbc", "bc", "cc", "dc", "mdc", "borough"})
# Councils' own abbreviations, tried only when matching a payee to a registry publisher.
ABBREVIATIONS = {
    "cc": ("county council", "city council"), "mbc": ("metropolitan borough council",),
    "bc": ("borough council",), "dc": ("district council",),
    "mdc": ("metropolitan district council",), "c": ("council",),
}
# Words that qualify a name without naming another body: 'Barnardos North East', 'HOME OFFICE
# IT', 'Torbay Council Finance', 'Pinsent Masons Solicitors', 'AUK Supplies *USE 67346*'.
QUALIFIERS = frozenset({
    "north", "south", "east", "west", "northern", "southern", "eastern", "western", "central",
    "midlands", "region", "regional", "area", "branch", "division", "directorate", "unit",
    "team", "hq", "headquarters", "finance", "payments", "payment", "pmts", "only", "account",
    "accounts", "debt", "recovery", "management", "admin", "administration", "it", "ict",
    "solicitors", "accountants", "ref", "reference", "use", "cash"})
# Words that make the name before them another body: 'Lancashire County Council Pension Fund'
# is not the council, 'Leeds City Council Academy' not the council either.
BODY_WORDS = frozenset({
    "pension", "pensions", "fund", "trust", "foundation", "school", "schools", "academy",
    "college", "university", "charity", "club", "society", "federation", "union",
    "partnership", "police", "fire", "hospital", "hospitals", "church", "parish", "nursery",
    "association", "housing", "centre", "company", "services"})
# Of those, the ones that name another body when a shorter name lacks them ('Leeds Teaching
# Hospitals' is still the trust without 'Trust').
CUT_BODY_WORDS = BODY_WORDS - {"trust", "foundation", "company", "services"}
# Words too common to stand for one organisation before a qualifier ('Care South').
GENERIC = QUALIFIERS | BODY_WORDS | frozenset({
    "care", "supplies", "supply", "fostering", "support", "training", "community", "health",
    "education", "homes", "home", "group", "national", "royal", "city", "county", "local",
    "general", "united", "first", "new", "best", "premier", "total", "direct", "global"})
# Words that end a name cut off in the middle ('ROYAL NATIONAL INSTITUTE FOR THE').
CONNECTORS = frozenset({"for", "of", "the", "and", "&", "in", "on", "at", "to"})
# What a publisher of each kind may add after its name and still be itself.
KIND_WORDS = {
    "housing": frozenset({"housing", "association"}),
    "nhs": frozenset({"nhs", "trust", "foundation"}),
    "fire": frozenset({"fire", "rescue", "service", "authority"}),
    "police": frozenset({"police", "office"}),
}
_COMPANY = re.compile(r"^(?:(\d{1,8})|([A-Z]{2})(\d{1,6}))$")
_COMPANY_FORM = re.compile(r"\b(?:ltd|limited|plc|llp)\b\.?", re.IGNORECASE)
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


def council_core(key: str | None) -> str | None:
    """The place a council's name names: 'blackpool' for 'blackpool borough council', 'torbay
    council finance' and 'london borough wandsworth' ('of' is already gone) alike."""
    words = [w for w in (key or "").split() if not w.isdigit()]
    markers = [i for i, w in enumerate(words) if w in COUNCIL_MARKERS]
    if not markers:
        return None
    before = [w for w in words[: markers[0]] if w not in COUNCIL_WORDS]
    after = [w for w in words[markers[0] + 1:] if w not in COUNCIL_WORDS]
    if not before or before in (["london"], ["royal"]):
        place = after  # 'London Borough of X', 'Royal Borough of X': the place follows
    elif after:
        return None  # 'X County Council Pension Fund' is another body, not the council
    else:
        place = before
    return " ".join(place) or None


class Resolver:
    """Resolves payees one by one, remembering what it has seen for later spellings.

    learn() first, over a whole batch, lets a spelling meet one that declares it as an alias
    ('DWP' and 'Department for Work & Pensions (DWP)') whatever order they come in.
    """

    def __init__(self, registry: Registry | None = None, curated: Path = CURATED_PATH) -> None:
        self.publisher_by_key: dict[str, str] = {}
        self.publisher_by_core: dict[str, str | None] = {}
        self.org_id_of: dict[str, str] = {}  # publisher id -> org-id
        self.publisher_by_org_id: dict[str, str] = {}
        self.curated: dict[str, tuple[str, str | None]] = {}
        self.pseudonyms: set[str] = set()
        self.apart: set[frozenset[str]] = set()
        self.declared: dict[str, list[str]] = {}  # alias key -> main keys that declared it
        self.seen: dict[str, list[str]] = {}  # first letters -> keys, for fuzzy blocking
        self.anchor: dict[str, str] = {}  # key -> supplier id
        # Every known key's first words -> (the word that follows, supplier id): finds the one
        # name a shorter spelling was cut from.
        self.continuations: dict[str, set[tuple[str, str]]] = {}
        self.kind_of: dict[str, str] = {}  # publisher id -> kind
        self.body_initials: set[str] = set()  # public bodies' initials: 'dwp', 'dfe'
        self.places: set[str] = set()  # councils' one-word places: 'lancashire', 'leeds'
        if registry is not None:
            self._index_publishers(registry)
        self._load_curated(curated)

    def learn(self, records: Iterable[PayeeRecord]) -> None:
        """Note the aliases a batch of names declares, before resolving any of them."""
        for record in records:
            main = payee_key(record.name)
            for alias in alias_keys(record.name):
                self.declared.setdefault(alias, []).append(main)

    def resolve(self, record: PayeeRecord) -> Resolution:
        name = (record.name or "").strip()
        if not name:
            return Resolution(None, None, "none", 0.0)
        key = payee_key(name)
        if is_redaction_marker(name) or _plain(name) in self.pseudonyms or key is None:
            return Resolution(None, None, "redacted", 1.0)
        keys = self._candidates(name, key)
        company = bool(_COMPANY_FORM.search(name))
        if company:  # 'dfe (UK) Ltd' is not the DfE
            keys = [k for k in keys if k.lstrip("~") not in self.body_initials]
        # A name that ends in its legal form, a bracket or 'Group' was written in full.
        complete = company or name.endswith(")") or _ends_in_form(name)
        result = (self._by_number(record, key) or self._curated(keys, key)
                  or self._publisher(keys, key) or self._known(keys, key)
                  or self._fuzzy(key, complete) or self._qualified(key, company)
                  or (None if complete or _cut_mid_phrase(name) else self._cut_short(key))
                  or Resolution(name_id(key), None, "exact", 0.9, key))
        for candidate in keys:
            self._remember(candidate, result.supplier_id)
        return result

    def _candidates(self, name: str, key: str) -> list[str]:
        """Keys this payee may be known by: its own, an acronym it declares or is declared
        for, what precedes a '-' qualifier, its council's place, and its letters without
        spaces ('Wilfward' for 'Wilf Ward')."""
        keys = [key, *alias_keys(name), *self.declared.get(key, []), leading_part(name)]
        core = council_core(key)
        if core:
            keys.append(f"council {core}")
        keys.append("~" + key.replace(" ", ""))
        return [k for k in dict.fromkeys(keys) if k]

    def _by_number(self, record: PayeeRecord, key: str) -> Resolution | None:
        org_id = company_org_id(record.company_number) or charity_org_id(record.charity_number)
        if not org_id:
            return None
        publisher_id = self.publisher_by_org_id.get(org_id) or self.publisher_by_key.get(key)
        if publisher_id:
            org_id = self.org_id_of[publisher_id]
        return Resolution(org_id, publisher_id, "id", 1.0, key)

    def _curated(self, keys: list[str], key: str) -> Resolution | None:
        for candidate in keys:
            if candidate in self.curated:
                supplier_id, publisher_id = self.curated[candidate]
                return Resolution(supplier_id, publisher_id, "curated", 1.0, key)
        return None

    def _publisher(self, keys: list[str], key: str) -> Resolution | None:
        for candidate in keys:
            publisher_id = self._publisher_named(candidate)
            if publisher_id:
                confidence = 0.97 if candidate == key else 0.93
                return Resolution(self.org_id_of[publisher_id], publisher_id, "exact",
                                  confidence, key)
        return None

    def _publisher_named(self, key: str) -> str | None:
        """The publisher a key names, reading council abbreviations ('Leeds CC', 'Bury MBC')
        and councils written without their type ('Blackpool Council')."""
        if key in self.publisher_by_key:
            return self.publisher_by_key[key]
        words = key.rsplit(" ", 1)
        for full in ABBREVIATIONS.get(words[-1], ()) if len(words) == 2 else ():
            if f"{words[0]} {full}" in self.publisher_by_key:
                return self.publisher_by_key[f"{words[0]} {full}"]
        core = council_core(key)
        return self.publisher_by_core.get(core) if core else None

    def _known(self, keys: list[str], key: str) -> Resolution | None:
        for candidate in keys:
            if candidate in self.anchor:
                supplier_id = self.anchor[candidate]
                confidence = 0.95 if candidate == key else 0.9
                return Resolution(supplier_id, self.publisher_by_org_id.get(supplier_id),
                                  "exact", confidence, key)
        return None

    def _fuzzy(self, key: str, complete: bool = False) -> Resolution | None:
        best, best_score = None, 0.0
        for other in self.seen.get(_block(key), ()):
            if frozenset((key, other)) in self.apart:
                continue
            score = similarity(key, other, may_be_cut=not complete)
            if score > best_score:
                best, best_score = other, score
        if best is None:
            return None
        supplier_id = self.anchor[best]
        return Resolution(supplier_id, self.publisher_by_org_id.get(supplier_id), "fuzzy",
                          round(best_score, 3), key)

    def _qualified(self, key: str, company: bool) -> Resolution | None:
        """A known name followed by words that only qualify it: a region, a department, a
        reference. After one word the qualifier must be such words; a publisher may also add
        what its kind is called ('Fellside Homes Housing Association'). A registered company
        named for a region is a company of its own ('Npower Northern Ltd'): with a legal form
        only a reference qualifies."""
        words = key.split()
        for cut in range(len(words) - 1, 0, -1):
            base, tail = " ".join(words[:cut]), words[cut:]
            publisher_id = self._publisher_named(base)
            if publisher_id and self.kind_of.get(publisher_id) in (
                    "council", "combined_authority") and not COUNCIL_MARKERS & set(words[:cut]):
                publisher_id = None  # 'EXETER CAB', 'DEVON IT': a place is not its council
            supplier_id = self.org_id_of[publisher_id] if publisher_id else self.anchor.get(base)
            if not supplier_id:
                continue
            if publisher_id is None and (all(w in GENERIC for w in words[:cut]) or (
                    cut == 1 and len(base) < 6)):
                continue  # 'CARE SOUTH', 'SOUTH WESTERN AID': common words name no one
            allowed = KIND_WORDS.get(self.kind_of.get(publisher_id or ""), frozenset())
            if company and not any(c.isdigit() for c in "".join(tail)):
                continue
            if _qualifies(tail, strong=cut >= 2 or publisher_id is not None, allowed=allowed):
                return Resolution(supplier_id, publisher_id
                                  or self.publisher_by_org_id.get(supplier_id), "fuzzy", 0.85,
                                  key)
        return None

    def _cut_short(self, key: str) -> Resolution | None:
        """A spelling cut short by a column width or a clerk: 'NATIONAL FIRE CHIEFS' for
        'National Fire Chiefs Council Ltd', 'Calibration & Consulta' for 'Calibration &
        Consultancy Services'. Only when exactly one known organisation continues it."""
        words = key.split()
        if len(words) < 2 or len(key) < 8:
            return None
        found = {supplier_id for _, supplier_id in self.continuations.get(key, ())}
        last = words[-1]
        if len(last) >= 3:
            found |= {supplier_id for following, supplier_id
                      in self.continuations.get(" ".join(words[:-1]), ())
                      if following != last and following.startswith(last)}
        if len(found) != 1:
            return None
        if any(following in self.places or following in CUT_BODY_WORDS
               for following, _ in self.continuations.get(key, ())):
            # 'Office of the Police and Crime Commissioner' (for where?); 'Newcastle upon
            # Tyne' is not the 'Newcastle upon Tyne Hospitals NHS Trust'.
            return None
        supplier_id = found.pop()
        return Resolution(supplier_id, self.publisher_by_org_id.get(supplier_id), "fuzzy", 0.8,
                          key)

    def _remember(self, key: str, supplier_id: str | None) -> None:
        if key and supplier_id and key not in self.anchor:
            self.anchor[key] = supplier_id
            if not key.startswith("~"):
                self.seen.setdefault(_block(key), []).append(key)
                words = key.split()
                for cut in range(1, len(words)):
                    self.continuations.setdefault(" ".join(words[:cut]), set()).add(
                        (words[cut], supplier_id))

    def _index_publishers(self, registry: Registry) -> None:
        codes = _council_names()
        cores: dict[str, set[str]] = {}
        for publisher in registry:
            self.org_id_of[publisher.id] = publisher.org_id
            self.publisher_by_org_id[publisher.org_id] = publisher.id
            self.kind_of[publisher.id] = publisher.kind
            names = (publisher.name, *publisher.also_known_as, *codes.get(publisher.org_id, ()))
            if publisher.kind not in ("council", "combined_authority"):
                # Public bodies go by their initials (DfE, DWP, TfL); councils' initials clash.
                for initials in acronyms(publisher.name):
                    self.publisher_by_key.setdefault(initials, publisher.id)
                    self.body_initials.add(initials)
            for name in names:
                key = payee_key(name)
                if key:
                    self.publisher_by_key.setdefault(key, publisher.id)
                    if publisher.kind not in ("council", "combined_authority"):
                        # Typos and cut-short spellings of a body's name find it too.
                        self._remember(key, publisher.org_id)
                    if publisher.kind == "council":
                        place = council_core(key) or " ".join(
                            w for w in key.split() if w not in COUNCIL_WORDS)
                        cores.setdefault(place, set()).add(publisher.id)
        # A place two councils share ('Durham') names neither.
        self.publisher_by_core = {core: ids.pop() for core, ids in cores.items()
                                  if core and len(ids) == 1}
        self.places = {core for core in cores if core and " " not in core}

    def _load_curated(self, path: Path) -> None:
        data = read_yaml(path) or {}
        for entry in data.get("matches") or []:
            publisher_id = entry.get("publisher_id")
            supplier_id = entry.get("org_id") or (
                self.org_id_of.get(publisher_id) if publisher_id else None) or name_id(
                payee_key(entry["name"]))
            for spelling in [entry["name"], *entry.get("spellings", [])]:
                self.curated[payee_key(spelling)] = (supplier_id, publisher_id)
        # Compared as written (bar case and spacing): THIRD PARTY LTD is a real company.
        self.pseudonyms = {_plain(p) for p in data.get("pseudonyms") or []}
        for left, right in data.get("non_matches") or []:
            self.apart.add(frozenset((payee_key(left), payee_key(right))))


def similarity(key: str, other: str, may_be_cut: bool = True) -> float:
    """How alike two keys are, word by word: 0 unless they have the same words in the same
    order, each pair alike (a typo) or the last one cut short, and the same numbers. A name of
    one word, or one written in full (may_be_cut false), is never taken as cut short."""
    words, others = key.split(), other.split()
    if len(words) != len(others) or key == other:
        return 0.0
    if [w for w in words if any(c.isdigit() for c in w)] != [
            w for w in others if any(c.isdigit() for c in w)]:
        return 0.0
    for index, (word, twin) in enumerate(zip(words, others, strict=True)):
        if word == twin:
            continue
        short, long = sorted((word, twin), key=len)
        truncated = (may_be_cut and len(words) > 1 and index == len(words) - 1
                     and len(short) >= 3 and long.startswith(short))
        alike = min(len(word), len(twin)) >= 4 and SequenceMatcher(
            None, word, twin).ratio() >= WORD_SIMILARITY
        if not (truncated or alike):
            return 0.0
    return SequenceMatcher(None, key, other, autojunk=False).ratio()


def _qualifies(tail: list[str], strong: bool, allowed: frozenset[str]) -> bool:
    """Whether words after a known name only qualify it. After a name of two or more words
    (or a publisher's) a short code counts too ('LONDON BOROUGH OF WANDSWORTH - BSP')."""
    if not tail or len(tail) > 4:
        return False
    for word in tail:
        if word in allowed:
            continue
        if word in BODY_WORDS:
            return False
        if word in QUALIFIERS or any(c.isdigit() for c in word) or (strong and len(word) <= 3):
            continue
        return False
    return True


def _ends_in_form(name: str) -> bool:
    words = re.findall(r"\w+", name.casefold())
    return bool(words) and words[-1] in ("group", "holdings", "company", "co", "uk", "cic")


def _cut_mid_phrase(name: str) -> bool:
    words = re.findall(r"[\w&]+", name.casefold())
    return bool(words) and words[-1] in CONNECTORS


def _block(key: str) -> str:
    # Candidates for a fuzzy match share their first three letters: cheap, and a typo later
    # in the first word ('Pinsents' for 'Pinsent') still finds its twin.
    return key[:3]


def _plain(name: str) -> str:
    return " ".join(name.casefold().split())


@lru_cache(maxsize=1)
def _council_names() -> dict[str, tuple[str, ...]]:
    """GB-LAE/GB-LAS/GB-PLA/GB-LANI org-id → every name the reference knows it by."""
    names: dict[str, list[str]] = {}
    if COUNCIL_NAMES.exists():
        with COUNCIL_NAMES.open(encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                names.setdefault(row["org_id"], []).append(row["name"])
    return {org_id: tuple(values) for org_id, values in names.items()}
