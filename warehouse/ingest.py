"""Bring a publisher's archived files into the warehouse: load new versions, mark withdrawals."""

from __future__ import annotations

import sqlalchemy as sa

from sources.archive import Archive
from sources.registry import Publisher
from warehouse.load import LoadOutcome, load_file, mark_withdrawn
from warehouse.tables import publishers


def load_archived(engine: sa.Engine, publisher: Publisher, archive: Archive) -> list[LoadOutcome]:
    """Load the latest archived bytes of every URL the publisher has had, in a stable order.

    Bytes already loaded are recognised and skipped, so running this again changes nothing.
    """
    outcomes = []
    for url in sorted(archive.known_urls(publisher.id)):
        last, latest = archive.last(url), archive.latest(url)
        if last.status == "withdrawn":
            changed = mark_withdrawn(engine, publisher.id, url, last.error or "withdrawn")
            outcomes.append(LoadOutcome(url, "withdrawn" if changed else "unchanged"))
            continue
        outcomes.append(load_file(engine, publisher, url, archive.path_of(latest.sha256),
                                  latest.fetched_at, latest.schema))
    return outcomes


def published_dates(archive: Archive, publisher_id: str) -> dict[str, str]:
    """When each URL's current bytes appeared: Last-Modified if served, else first fetched."""
    return {
        url: archive.latest(url).last_modified or archive.latest(url).fetched_at
        for url in archive.known_urls(publisher_id)
    }


def published_by_publisher(engine: sa.Engine, archive: Archive) -> dict[str, dict[str, str]]:
    """When the files of each publisher in the warehouse appeared, for the timeliness score:
    from the archive, whichever registry (or local load) brought them."""
    with engine.connect() as conn:
        ids = conn.execute(sa.select(publishers.c.id).order_by(publishers.c.id)).scalars()
        return {p: published_dates(archive, p) for p in ids}
