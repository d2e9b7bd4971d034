"""Bring a publisher's archived files into the warehouse: load new versions, mark withdrawals."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from sources.archive import Archive
from sources.registry import Publisher
from warehouse.load import LoadOutcome, load_file, mark_withdrawn
from warehouse.preparing import Preparation, drop_ahead, prepare_ahead
from warehouse.tables import files, publishers


def load_archived(engine: sa.Engine, publisher: Publisher, archive: Archive,
                  progress: Callable[[int, int, int], None] | None = None) -> list[LoadOutcome]:
    """Load the latest archived bytes of every URL the publisher has had, in a stable order.

    Bytes already loaded are recognised and skipped, so running this again changes nothing.
    `progress` hears the number of the file being loaded, how many there are, and the rows
    loaded or quarantined so far, as each file starts and as each chunk goes in.
    """
    outcomes = []
    urls = sorted(archive.known_urls(publisher.id))
    number = rows = 0

    def counted(chunk: int) -> None:
        nonlocal rows
        rows += chunk
        progress(number, len(urls), rows)

    new = _not_loaded(engine, publisher.id, archive, urls)
    try:
        for number, url in enumerate(urls, 1):
            if progress is not None:
                progress(number, len(urls), rows)
            last, latest = archive.last(url), archive.latest(url)
            if last.status == "withdrawn":
                changed = mark_withdrawn(engine, publisher.id, url, last.error or "withdrawn")
                outcomes.append(LoadOutcome(url, "withdrawn" if changed else "unchanged"))
                continue
            # The next file to load is read on the other core while this one goes in.
            for following in urls[number:]:
                if following in new:
                    ahead = archive.latest(following)
                    prepare_ahead(Preparation(archive.path_of(ahead.sha256), ahead.schema,
                                              publisher, 0, sha256=ahead.sha256))
                    break
            outcomes.append(load_file(engine, publisher, url, archive.path_of(latest.sha256),
                                      latest.fetched_at, latest.schema,
                                      counted if progress is not None else None))
    finally:
        drop_ahead()
    return outcomes


def _not_loaded(engine: sa.Engine, publisher_id: str, archive: Archive,
                urls: list[str]) -> set[str]:
    """The URLs whose latest archived bytes the warehouse has not loaded (and that are not
    withdrawn): those a load will read."""
    with engine.connect() as conn:
        loaded = {(url, sha) for url, sha in conn.execute(
            sa.select(files.c.url, files.c.sha256).where(
                files.c.publisher_id == publisher_id, files.c.status != "superseded"))}
    return {url for url in urls if archive.last(url).status != "withdrawn"
            and (url, archive.latest(url).sha256) not in loaded}


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
