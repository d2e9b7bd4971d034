"""Publishers' websites failing in every way a website can, during whole runs.

One run loads every publisher cleanly. Then each faulty publisher republishes its file and its
website fails in its own way (FAULTS, one row per fault; docs/reliability.md "Network faults"
is checked against it), while two healthy publishers go on as usual, and the run is made
again; then the faults are cleared and the run made a third time. Every run must complete;
the healthy publishers load; each faulty publisher's status says why; nothing loaded before is
lost; and once the website works again the next run catches up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from sources.demo_server import Fault
from tests.reliability.conftest import Payment, Web, payments_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
ROWS = 6  # payments in each publisher's first file
BIG = 2_000  # rows in a grown file: past FAST.max_bytes
DRIPPED = 600  # rows in a dripped file: under the cap, far past the deadline at the drip rate

# What a faulty publisher's new file is: one more payment, grown, or taken down.
REPUBLISH, GROW_PAST_CAP, GROW, DELETE = "one more row", "grown past the cap", "grown", "deleted"
KEPT, NEW, WITHDRAWN = "old version kept", "new version loaded", "kept; file marked withdrawn"
CATCHES_UP, STILL_REFUSED, STAYS_WITHDRAWN = "loads the new version", "still refused", (
    "stays withdrawn")


@dataclass(frozen=True)
class NetworkFault:
    id: str  # also the publisher's id
    fault: str  # what goes wrong, as docs/reliability.md names it
    injected: str  # how the test makes it happen
    status: str  # the publisher's status after the faulty run
    reason: str  # found in its status message
    data: str  # what the warehouse holds for it after the faulty run
    next_run: str  # once the website works again
    server: Fault | None = None
    change: str = REPUBLISH
    listing: bool = False  # the fault is on the publisher's file listing page, not the file

    def doc_row(self) -> list[str]:
        return [self.fault, self.injected, self.status, self.reason or "–", self.data,
                self.next_run]


FAULTS = [
    NetworkFault("hang", "timeout", "the server accepts the connection and never answers",
                 "error", "timed out", KEPT, CATCHES_UP, Fault(hang=True)),
    NetworkFault("error-500-once", "HTTP 500, then success", "`Fault(status=500, fail_times=1)`",
                 "ok", "", NEW, CATCHES_UP, Fault(status=500, fail_times=1)),
    NetworkFault("error-503-once", "HTTP 503, then success", "`Fault(fail_times=1)`",
                 "ok", "", NEW, CATCHES_UP, Fault(fail_times=1)),
    NetworkFault("error-500-always", "HTTP 500 on every try", "`Fault(status=500)`",
                 "error", "HTTP 500", KEPT, CATCHES_UP, Fault(status=500)),
    NetworkFault("reset", "connection reset mid-body", "`Fault(reset=True)`: half the body, "
                 "then a TCP reset", "error", "the connection broke off mid-file", KEPT,
                 CATCHES_UP, Fault(reset=True)),
    NetworkFault("truncated", "truncated body", "`Fault(truncate=1000)`: Content-Length "
                 "promises 1,000 bytes more than are sent", "error",
                 "the connection broke off mid-file", KEPT, CATCHES_UP, Fault(truncate=1000)),
    NetworkFault("html-200", "HTML error page with status 200", "`Fault(html=True)`", "error",
                 "an HTML page was served where a spreadsheet was expected", KEPT, CATCHES_UP,
                 Fault(html=True)),
    NetworkFault("gone-404", "404 for a known file", "the file is deleted from the website",
                 "ok", "HTTP 404: the publisher has withdrawn this file; its data is kept",
                 WITHDRAWN, STAYS_WITHDRAWN, change=DELETE),
    NetworkFault("redirect-loop", "redirect loop", "`Fault(redirect=<the same path>)`",
                 "error", "a redirect loop", KEPT, CATCHES_UP,
                 Fault(redirect="/redirect-loop/spend.csv")),
    NetworkFault("over-cap", "file over the size cap", "the new file is 2,000 rows, past a "
                 "64 KiB cap; Content-Length says so", "error", "over the 65536 byte cap",
                 KEPT, STILL_REFUSED, change=GROW_PAST_CAP),
    NetworkFault("over-cap-chunked", "file over the size cap, size not declared",
                 "the same file sent chunked, with no Content-Length (`Fault(chunked=True)`)",
                 "error", "passed the 65536 byte cap", KEPT, STILL_REFUSED,
                 Fault(chunked=True), change=GROW_PAST_CAP),
    NetworkFault("drip", "very slow drip", "`Fault(drip=0.1)`: 256 bytes every 0.1 s, "
                 "never silent for the 3 s read timeout; the 24 KB file needs ~10 s",
                 "error", "the download took longer than 3 s", KEPT, CATCHES_UP,
                 Fault(drip=0.1), change=GROW),
    NetworkFault("listing-503", "the file listing page fails", "`Fault(status=503)` on the "
                 "index page that links to the files", "error",
                 "HTTP 503 for the file listing", NEW, CATCHES_UP, Fault(status=503),
                 listing=True),
]
HEALTHY = ("steady-council", "busy-council")  # unchanged every run; republishes every run


def new_rows(case: NetworkFault) -> list[Payment]:
    count = {GROW_PAST_CAP: BIG, GROW: DRIPPED}.get(case.change, ROWS + 1)
    return payments_for(case.id, count)


def summed(rows: list[Payment]) -> tuple[int, int]:
    return len(rows), sum(r.pence for r in rows)


@dataclass
class Runs:
    web: Web
    clean: dict
    faulty: dict
    held_clean: dict[str, tuple[int, int]]
    held_faulty: dict[str, tuple[int, int]]
    held_after: dict[str, tuple[int, int]]
    status_faulty: dict[str, tuple[str, str]]
    files_faulty: dict[str, list[str]]
    files_after: dict[str, list[str]]


@pytest.fixture(scope="module")
def runs(make_web, tmp_path_factory) -> Runs:
    web = make_web(tmp_path_factory.mktemp("network-faults"))
    for case in FAULTS:
        web.publish(case.id, payments_for(case.id, ROWS))
        if case.listing:
            (web.www / case.id / "index.html").write_text('<a href="spend.csv">April</a>')
            web.register(case.id, [{"kind": "index", "url": f"{web.server.url}/{case.id}/",
                                    "pattern": r"\.csv$"}])
        else:
            web.register(case.id, [{"kind": "urls", "urls": [web.url(case.id)]}])
    for publisher_id in HEALTHY:
        web.register(publisher_id, [{"kind": "urls", "urls": [
            web.publish(publisher_id, payments_for(publisher_id, ROWS))]}])
    ids = [c.id for c in FAULTS] + list(HEALTHY)
    clean = web.run()
    held_clean = {i: web.held(i) for i in ids}

    for case in FAULTS:
        if case.change == DELETE:
            (web.www / case.id / "spend.csv").unlink()
        else:
            web.publish(case.id, new_rows(case))
        if case.server is not None:
            where = f"/{case.id}/" if case.listing else web.path(case.id)
            web.server.faults[where] = case.server
    web.publish("busy-council", payments_for("busy-council", ROWS + 2))
    faulty = web.run()
    held_faulty = {i: web.held(i) for i in ids}
    status_faulty = {i: web.status(i) for i in ids}
    files_faulty = {c.id: web.file_statuses(web.url(c.id)) for c in FAULTS}

    web.server.faults.clear()
    web.run()
    return Runs(web, clean, faulty, held_clean, held_faulty, {i: web.held(i) for i in ids},
                status_faulty, files_faulty, {c.id: web.file_statuses(web.url(c.id))
                                              for c in FAULTS})


def test_every_run_completes_and_publishes_the_site(runs):
    expected = {c.id for c in FAULTS} | set(HEALTHY)
    assert set(runs.clean) == expected and set(runs.faulty) == expected
    assert {s.status for s in runs.clean.values()} == {"ok"}
    site = runs.web.data / "site"
    assert {p.stem for p in site.glob("*.db")} == expected | {"moneytrail"}


def test_the_healthy_publishers_load_while_others_fail(runs):
    assert runs.status_faulty["steady-council"] == ("ok", "")
    assert runs.held_faulty["steady-council"] == summed(payments_for("steady-council", ROWS))
    assert runs.status_faulty["busy-council"] == ("ok", "")
    assert runs.held_faulty["busy-council"] == summed(payments_for("busy-council", ROWS + 2))


@pytest.mark.parametrize("case", FAULTS, ids=[c.id for c in FAULTS])
def test_a_faulty_publisher_says_why_and_loses_nothing(runs, case):
    assert runs.held_clean[case.id] == summed(payments_for(case.id, ROWS))
    status, message = runs.status_faulty[case.id]
    assert status == case.status, message
    if case.reason:
        assert case.reason in message
    else:
        assert message == ""
    held = {KEPT: summed(payments_for(case.id, ROWS)), WITHDRAWN: runs.held_clean[case.id],
            NEW: summed(new_rows(case))}[case.data]
    assert runs.held_faulty[case.id] == held
    versions = runs.files_faulty[case.id]
    assert versions[-1] == {KEPT: "current", WITHDRAWN: "withdrawn", NEW: "current"}[case.data]
    assert versions.count("current") <= 1


@pytest.mark.parametrize("case", FAULTS, ids=[c.id for c in FAULTS])
def test_the_next_run_catches_up_once_the_website_works(runs, case):
    want = {CATCHES_UP: summed(new_rows(case)), STILL_REFUSED: runs.held_clean[case.id],
            STAYS_WITHDRAWN: runs.held_clean[case.id]}[case.next_run]
    assert runs.held_after[case.id] == want
    last = {CATCHES_UP: "current", STILL_REFUSED: "current",
            STAYS_WITHDRAWN: "withdrawn"}[case.next_run]
    assert runs.files_after[case.id][-1] == last


def test_the_reliability_doc_lists_every_fault_and_its_outcome():
    section = DOC.read_text(encoding="utf-8").split("## Network faults", 1)[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    table = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]
    assert table == [case.doc_row() for case in FAULTS]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header == ["fault", "how the test injects it", "publisher status", "reason shown",
                      "data already loaded", "next run"]
    assert re.search(r"tests/reliability/test_network_faults\.py", section)
