"""The publisher registry: who publishes spending data, where, and how to read it (YAML data)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sources.quirks import DATE_ORDERS, Quirks
from sources.yamlfiles import read_yaml

REGISTRY_DIR = Path(__file__).with_name("registry")
UK_REGISTRY = REGISTRY_DIR / "uk.yaml"
FEED_KINDS = ("urls", "index", "ckan")
PUBLISHER_KINDS = (
    "council", "combined_authority", "fire", "police", "nhs", "housing", "almo",
    "leisure_trust", "academy_trust", "care_provider", "central_government", "transport",
    "other",
)
SCHEMAS = ("spend", "purchase-card")
_ORG_ID = re.compile(r"^[A-Z]{2}-[A-Z0-9]{2,6}-[A-Za-z0-9._-]+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def slug_problem(ident: str) -> str | None:
    """Why IDENT cannot be a publisher id (the site's routes and file names are built from it),
    with the slug it could be; None when it can."""
    if _SLUG.match(ident):
        return None
    suggestion = re.sub(r"[^a-z0-9]+", "-", ident.lower()).strip("-")
    hint = f", such as {suggestion!r}" if suggestion else ""
    return (f"publisher id {ident!r} is not a lower-case slug (letters a-z, digits and hyphens, "
            f"starting with a letter or digit){hint}")


class RegistryError(ValueError):
    """The registry file, or one entry of it, is wrong; the message names the field (and the
    file and the publisher when the whole registry fails)."""


@dataclass(frozen=True)
class Feed:
    """Where a publisher's files are found.

    urls: a list of direct file URLs. index: an HTML page whose links matching `pattern` (a
    regular expression searched in each absolute link URL) are files. ckan: a CKAN site
    (`url`, e.g. https://datamillnorth.org) and `dataset` whose resources are files.
    """

    kind: str
    urls: tuple[str, ...] = ()
    url: str | None = None
    pattern: str | None = None
    dataset: str | None = None
    schema: str = "spend"


@dataclass(frozen=True)
class Publisher:
    """One body that publishes spending data (a council, or a provider it commissions)."""

    id: str
    org_id: str
    name: str
    kind: str
    gss_code: str | None = None
    population: int | None = None
    # The year the population was counted or estimated for (mySociety's `pop-2020`: 2020),
    # stated beside every per-resident figure.
    population_year: int | None = None
    licence: str = "OGL-UK-3.0"
    website: str | None = None
    commissioners: tuple[str, ...] = ()
    feeds: tuple[Feed, ...] = ()
    quirks: Quirks = field(default_factory=Quirks)
    # Other names the body goes by or went by (a former name, its service's public name);
    # supplier resolution links payees written so to this publisher.
    also_known_as: tuple[str, ...] = ()


@dataclass(frozen=True)
class Registry:
    """Publishers by id, in file order."""

    publishers: Mapping[str, Publisher]
    path: Path | None = None
    # The entries that could not be loaded, each with why: by id, or by position in the list
    # (`publishers[3]`) when the id itself is unusable. Each fails alone (docs/registry.md).
    invalid: Mapping[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Publisher]:
        return iter(self.publishers.values())

    def __len__(self) -> int:
        return len(self.publishers)

    def __getitem__(self, publisher_id: str) -> Publisher:
        if publisher_id in self.invalid:
            raise RegistryError(f"{self.path}: {publisher_id}: {self.invalid[publisher_id]}")
        try:
            return self.publishers[publisher_id]
        except KeyError:
            raise KeyError(f"no publisher {publisher_id!r} in {self.path}") from None

    def partition_ids(self) -> list[str]:
        """Every id a publisher's runs go under: the loaded ones, and the invalid entries whose
        id is usable, so that their failure shows where the publisher's runs would."""
        usable = [key for key in self.invalid if slug_problem(key) is None]
        return [*self.publishers, *usable]

    def select(self, ids: list[str] | tuple[str, ...] | None
               ) -> tuple[list[Publisher], dict[str, str]]:
        """The named publishers (all of them when none are named), and the named entries that
        could not be loaded, with why."""
        if not ids:
            return list(self), dict(self.invalid)
        return ([self[i] for i in ids if i not in self.invalid],
                {i: self.invalid[i] for i in ids if i in self.invalid})


def load_registry(path: Path = UK_REGISTRY) -> Registry:
    """Read and check a registry YAML file: a top-level `publishers:` list, and optionally the
    `population_year` of every population that does not give its own.

    An entry with a wrong value is left out and recorded in `invalid` with why, so that it
    fails alone; a file that cannot be read as YAML, or lists an id twice, fails whole."""
    try:
        data = read_yaml(path) or {}
    except yaml.YAMLError as problem:
        raise RegistryError(f"{path}: not readable as YAML: {problem}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: expected a mapping with a `publishers:` list")
    population_year = _year(data.get("population_year"), f"{path}: population_year")
    entries = data.get("publishers") or []
    ids = _listed_ids(entries, path)
    publishers: dict[str, Publisher] = {}
    invalid: dict[str, str] = {}
    for position, entry in enumerate(entries):
        try:
            publisher = _publisher(entry, population_year)
            _check_commissioners(publisher, ids)
        except RegistryError as problem:
            invalid[_entry_key(entry, position)] = str(problem)
        else:
            publishers[publisher.id] = publisher
    return Registry(publishers, Path(path), invalid)


def _listed_ids(entries: list, path: Path) -> set[str]:
    """Every id the entries give; one listed twice makes the whole registry wrong, as which
    entry it names cannot be told."""
    ids: set[str] = set()
    for entry in entries:
        ident = str(entry.get("id", "")) if isinstance(entry, dict) else ""
        if ident in ids:
            raise RegistryError(f"{path}: publisher {ident!r} is listed twice")
        if ident:
            ids.add(ident)
    return ids


def _entry_key(entry: object, position: int) -> str:
    """What an invalid entry is recorded under: its id, or its position when the id is
    unusable (a partition, a route and a file are named by it)."""
    ident = str(entry.get("id", "")) if isinstance(entry, dict) else ""
    return ident if ident and slug_problem(ident) is None else f"publishers[{position}]"


def _check_commissioners(publisher: Publisher, ids: set[str]) -> None:
    for commissioner in publisher.commissioners:
        if commissioner not in ids:
            raise RegistryError(f"commissioners: {commissioner!r} is not in the registry")


def _publisher(entry: object, population_year: int | None = None) -> Publisher:
    """One entry as a Publisher; a RegistryError names the field that is wrong."""
    if not isinstance(entry, dict):
        raise RegistryError(f"the entry is not a mapping of fields: {entry!r}")
    ident = str(entry.get("id", ""))
    if problem := slug_problem(ident):
        raise RegistryError(f"id: {problem}")
    org_id = str(entry.get("org_id", ""))
    if not _ORG_ID.match(org_id):
        raise RegistryError(f"org_id {org_id!r} is not an org-id such as GB-LAE-LDS")
    kind = entry.get("kind")
    if kind not in PUBLISHER_KINDS:
        raise RegistryError(f"kind {kind!r} is not one of {', '.join(PUBLISHER_KINDS)}")
    quirks = entry.get("quirks") or {}
    if not isinstance(quirks, dict):
        raise RegistryError(f"quirks: {quirks!r} is not a mapping")
    order = quirks.get("date_order")
    if order is not None and order not in DATE_ORDERS:
        raise RegistryError(f"quirks.date_order must be one of {DATE_ORDERS}")
    population = entry.get("population")
    if population is not None:
        if not isinstance(population, int) or isinstance(population, bool):
            raise RegistryError(f"population: {population!r} is not a whole number")
        population_year = _year(entry.get("population_year", population_year),
                                "population_year")
    return Publisher(
        id=ident,
        org_id=org_id,
        name=str(entry.get("name") or ident),
        kind=kind,
        gss_code=entry.get("gss_code"),
        population=population,
        population_year=population_year if population is not None else None,
        licence=entry.get("licence", "OGL-UK-3.0"),
        website=entry.get("website"),
        commissioners=tuple(entry.get("commissioners") or ()),
        feeds=tuple(_feed(f, f"feeds[{n}]") for n, f in enumerate(entry.get("feeds") or ())),
        quirks=Quirks(dict(quirks.get("header_overrides") or {}), order,
                      _columns(quirks.get("columns"))),
        also_known_as=tuple(str(name) for name in entry.get("also_known_as") or ()),
    )


def _year(value: object, where: str) -> int | None:
    """A population's year, such as 2020; None when not given."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1900 <= value <= 2100:
        raise RegistryError(f"{where}: {value!r} is not a year such as 2020")
    return value


def _columns(columns: object) -> dict[int, str]:
    """A headerless file's column names: {number from 1: spend field}."""
    if not columns:
        return {}
    if not isinstance(columns, dict) or not all(
            isinstance(k, int) and k >= 1 and isinstance(v, str) for k, v in columns.items()):
        raise RegistryError("quirks.columns maps column numbers (from 1) to fields")
    return dict(columns)


def _feed(entry: object, where: str) -> Feed:
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: a feed is a mapping of fields, not {entry!r}")
    kind = entry.get("kind")
    if kind not in FEED_KINDS:
        raise RegistryError(f"{where}: feed kind {kind!r} is not one of {', '.join(FEED_KINDS)}")
    schema = entry.get("schema", "spend")
    if schema not in SCHEMAS:
        raise RegistryError(f"{where}: feed schema {schema!r} is not one of {SCHEMAS}")
    feed = Feed(kind, tuple(entry.get("urls") or ()), entry.get("url"), entry.get("pattern"),
                entry.get("dataset"), schema)
    needs = {"urls": feed.urls, "index": feed.url and feed.pattern, "ckan": feed.url and
             feed.dataset}[kind]
    if not needs:
        wanted = {"urls": "urls", "index": "url and pattern", "ckan": "url and dataset"}[kind]
        raise RegistryError(f"{where}: a {kind} feed needs {wanted}")
    for url in (*feed.urls, *([feed.url] if feed.url else [])):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise RegistryError(f"{where}: URL {url!r} is not http(s)")
    return feed


def publisher_quirks(publisher_id: str | None, registry: Registry | None = None) -> Quirks:
    """The quirks the registry records for a publisher; none for an unknown one."""
    if not publisher_id:
        return Quirks()  # a file of no named publisher: the registry need not be read
    registry = registry or _uk_registry()
    publisher = registry.publishers.get(publisher_id)
    return publisher.quirks if publisher else Quirks()


_CACHE: dict[str, Registry] = {}


def _uk_registry() -> Registry:
    if "uk" not in _CACHE:
        _CACHE["uk"] = load_registry(UK_REGISTRY)
    return _CACHE["uk"]
