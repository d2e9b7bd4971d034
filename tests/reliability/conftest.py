"""Publishers' websites on a real local HTTP server, a registry naming them, and whole runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from orchestration.runner import PublisherSummary, run_pipeline
from sources.demo_server import LocalServer
from sources.harvest import HarvestSettings
from warehouse.engine import connect, warehouse_url
from warehouse.tables import files, payments, publishers

# Short enough that the suite stays quick; the size cap and deadline are met by files the tests
# grow on purpose, never by the ordinary ones (a few hundred bytes each).
# A loaded two-core machine can keep the local server from answering for a second or more, so
# the read timeout leaves room for that.
FAST = HarvestSettings(allow_private=True, connect_timeout=5, read_timeout=3,
                       max_bytes=64 << 10, retries=1, backoff=0.01, file_deadline=3)
HEADER = "Supplier Name,Payment Date,Amount,Expense Area\n"


@dataclass(frozen=True)
class Payment:
    payee: str
    pence: int
    service: str = "Parks"


def spend_csv(rows: list[Payment]) -> bytes:
    """A spend file as councils publish them: one payment a line, amounts in pounds."""
    lines = [HEADER]
    for number, row in enumerate(rows):
        sign, pence = ("-" if row.pence < 0 else ""), abs(row.pence)
        day = number % 28 + 1
        lines.append(_csv_line([row.payee, f"{day:02d}/04/2025",
                                f"{sign}{pence // 100}.{pence % 100:02d}", row.service]))
    return "".join(lines).encode()


def _csv_line(cells: list[str]) -> str:
    quoted = ['"' + c.replace('"', '""') + '"' if any(x in c for x in ',"\n') else c
              for c in cells]
    return ",".join(quoted) + "\n"


def payments_for(publisher_id: str, count: int) -> list[Payment]:
    """`count` ordinary payments, different for every publisher, the same on every call."""
    seed = sum(publisher_id.encode())
    return [Payment(f"Supplier {seed % 97 + n} Ltd", 10_000 + seed * 7 + n * 131)
            for n in range(count)]


class Web:
    """Each publisher's website under root/www, the registry naming them, and the warehouse."""

    def __init__(self, root: Path, server: LocalServer) -> None:
        self.root, self.server = root, server
        self.www = server.root
        self.data = root / "data"
        self.registry = root / "registry.yaml"
        self.entries: dict[str, dict] = {}
        self.engine = connect(warehouse_url(self.data))

    def publish(self, publisher_id: str, rows: list[Payment], name: str = "spend.csv") -> str:
        """Put a file on the publisher's website; return its URL."""
        path = self.www / publisher_id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spend_csv(rows))
        return self.url(publisher_id, name)

    def url(self, publisher_id: str, name: str = "spend.csv") -> str:
        return f"{self.server.url}{self.path(publisher_id, name)}"

    @staticmethod
    def path(publisher_id: str, name: str = "spend.csv") -> str:
        return f"/{publisher_id}/{name}"

    def register(self, publisher_id: str, feeds: list[dict]) -> None:
        number = len(self.entries) + 1
        self.entries[publisher_id] = {
            "id": publisher_id, "org_id": f"GB-TEST-P{number}",
            "name": publisher_id.replace("-", " ").title(), "kind": "council", "feeds": feeds}
        self.registry.write_text(yaml.safe_dump({"publishers": list(self.entries.values())}))

    def run(self, settings: HarvestSettings = FAST) -> dict[str, PublisherSummary]:
        """One whole run, as `moneytrail run` makes it: harvest, load, check, build the site."""
        summaries = run_pipeline(self.registry, self.data, allow_private=True, http=settings)
        return {s.publisher_id: s for s in summaries}

    def held(self, publisher_id: str) -> tuple[int, int]:
        """The publisher's payments in the warehouse: how many, and their total in pence."""
        with self.engine.connect() as conn:
            count, total = conn.execute(sa.select(
                sa.func.count(), sa.func.coalesce(sa.func.sum(payments.c.amount_pence), 0))
                .where(payments.c.publisher_id == publisher_id)).one()
        return count, int(total)

    def status(self, publisher_id: str) -> tuple[str, str]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(publishers.c.status, publishers.c.status_message)
                               .where(publishers.c.id == publisher_id)).one()
        return row.status, row.status_message or ""

    def file_statuses(self, url: str) -> list[str]:
        """Every version of a URL's file, oldest first."""
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(files.c.status).where(files.c.url == url)
                                     .order_by(files.c.version)).scalars())


@pytest.fixture(scope="session")
def make_web() -> Iterator:
    """Start a Web under a folder; every server is stopped and engine closed at the end."""
    made: list[Web] = []

    def make(root: Path) -> Web:
        (root / "www").mkdir(parents=True, exist_ok=True)
        web = Web(root, LocalServer(root / "www").start())
        made.append(web)
        return web

    yield make
    for web in made:
        web.engine.dispose()
        web.server.stop()
