"""The publisher registry: who publishes spending data, where, and how to read it (YAML data)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
    """The registry file is wrong; the message names the publisher and the field."""


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

    def __iter__(self) -> Iterator[Publisher]:
        return iter(self.publishers.values())

    def __len__(self) -> int:
        return len(self.publishers)

    def __getitem__(self, publisher_id: str) -> Publisher:
        try:
            return self.publishers[publisher_id]
        except KeyError:
            raise KeyError(f"no publisher {publisher_id!r} in {self.path}") from None

    def select(self, ids: list[str] | tuple[str, ...] | None) -> list[Publisher]:
        """The named publishers (all of them when none are named)."""
        return [self[i] for i in ids] if ids else list(self)


def load_registry(path: Path = UK_REGISTRY) -> Registry:
    """Read and check a registry YAML file: a top-level `publishers:` list, and optionally the
    `population_year` of every population that does not give its own."""
    data = read_yaml(path) or {}
    population_year = _year(data.get("population_year"), f"{path}: population_year")
    publishers: dict[str, Publisher] = {}
    for entry in data.get("publishers") or []:
        publisher = _publisher(entry, path, population_year)
        if publisher.id in publishers:
            raise RegistryError(f"{path}: publisher {publisher.id!r} is listed twice")
        publishers[publisher.id] = publisher
    for publisher in publishers.values():
        for commissioner in publisher.commissioners:
            if commissioner not in publishers:
                raise RegistryError(
                    f"{path}: {publisher.id}: commissioner {commissioner!r} is not in the registry"
                )
    return Registry(publishers, Path(path))


def _publisher(entry: dict, path: Path, population_year: int | None = None) -> Publisher:
    ident = str(entry.get("id", ""))
    where = f"{path}: {ident or '(publisher without id)'}"
    if problem := slug_problem(ident):
        raise RegistryError(f"{where}: {problem}")
    org_id = str(entry.get("org_id", ""))
    if not _ORG_ID.match(org_id):
        raise RegistryError(f"{where}: org_id {org_id!r} is not an org-id such as GB-LAE-LDS")
    kind = entry.get("kind")
    if kind not in PUBLISHER_KINDS:
        raise RegistryError(f"{where}: kind {kind!r} is not one of {', '.join(PUBLISHER_KINDS)}")
    quirks = entry.get("quirks") or {}
    order = quirks.get("date_order")
    if order is not None and order not in DATE_ORDERS:
        raise RegistryError(f"{where}: quirks.date_order must be one of {DATE_ORDERS}")
    population = entry.get("population")
    if population is not None:
        population_year = _year(entry.get("population_year", population_year),
                                f"{where}: population_year")
    return Publisher(
        id=ident,
        org_id=org_id,
        name=str(entry.get("name") or ident),
        kind=kind,
        gss_code=entry.get("gss_code"),
        population=int(population) if population is not None else None,
        population_year=population_year if population is not None else None,
        licence=entry.get("licence", "OGL-UK-3.0"),
        website=entry.get("website"),
        commissioners=tuple(entry.get("commissioners") or ()),
        feeds=tuple(_feed(f, where) for f in entry.get("feeds") or ()),
        quirks=Quirks(dict(quirks.get("header_overrides") or {}), order,
                      _columns(quirks.get("columns"), where)),
        also_known_as=tuple(str(name) for name in entry.get("also_known_as") or ()),
    )


def _year(value: object, where: str) -> int | None:
    """A population's year, such as 2020; None when not given."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1900 <= value <= 2100:
        raise RegistryError(f"{where}: {value!r} is not a year such as 2020")
    return value


def _columns(columns: object, where: str) -> dict[int, str]:
    """A headerless file's column names: {number from 1: spend field}."""
    if not columns:
        return {}
    if not isinstance(columns, dict) or not all(
            isinstance(k, int) and k >= 1 and isinstance(v, str) for k, v in columns.items()):
        raise RegistryError(f"{where}: quirks.columns maps column numbers (from 1) to fields")
    return dict(columns)


def _feed(entry: dict, where: str) -> Feed:
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
        if not url.startswith(("http://", "https://")):
            raise RegistryError(f"{where}: feed URL {url!r} is not http(s)")
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
