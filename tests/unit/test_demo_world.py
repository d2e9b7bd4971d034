"""The demo world: deterministic bytes, a loadable registry, files that read back to the truth."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from schemas.validate import report_file
from sources.demo_server import LocalServer
from sources.demo_world import FLT, PUBLISHERS, DemoWorld, build_demo_world, generate_ledger
from sources.registry import FEED_KINDS, load_registry

BASE = "http://127.0.0.1:8999"
PROVIDERS = ("northmoor-leisure-trust", "fellside-homes", "brookfield-care",
             "fellbrook-learning-trust")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> DemoWorld:
    return build_demo_world(tmp_path_factory.mktemp("demo"), BASE)


@pytest.fixture(scope="module")
def reports(world: DemoWorld) -> dict[str, dict]:
    return {f["path"]: report_file(world.root / f["path"], "spend", f["publisher"]).to_json()
            for f in world.truth["files"]}


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_building_twice_gives_the_same_bytes(world, tmp_path):
    again = build_demo_world(tmp_path / "again", BASE)
    first, second = _digests(world.root), _digests(again.root)
    assert first == second
    assert any(name.endswith(".xlsx") for name in first)
    assert json.loads((again.root / "truth.json").read_text()) == world.truth


def test_registry_loads_with_six_kinds_and_commissioners(world):
    registry = load_registry(world.registry_path)
    assert len(registry) == 6
    kinds = Counter(p.kind for p in registry)
    assert kinds == {"council": 2, "leisure_trust": 1, "housing": 1, "care_provider": 1,
                     "academy_trust": 1}
    councils = {p.id for p in registry if p.kind == "council"}
    for publisher in registry:
        assert all(f.url or f.urls for f in publisher.feeds)
        if publisher.kind == "council":
            assert publisher.gss_code and publisher.population and not publisher.commissioners
            assert publisher.org_id.startswith("GB-LAE-")
        else:
            assert publisher.commissioners and set(publisher.commissioners) <= councils
    assert {f.kind for p in registry for f in p.feeds} == set(FEED_KINDS)
    assert set(registry["fellside-homes"].commissioners) == councils
    assert set(registry["brookfield-care"].commissioners) == councils
    for publisher in registry:
        for feed in publisher.feeds:
            assert all(u.startswith(BASE) for u in (*feed.urls, feed.url or BASE))


def test_every_file_reads_back_to_the_truth(world, reports):
    checked = 0
    for truth in world.truth["files"]:
        if truth.get("broken"):
            continue
        report = reports[truth["path"]]
        assert report["failure"] is None
        assert report["kind"] == "transactions"
        got = {k: report[k] for k in ("rows_read", "amount_total_pence", "redacted_rows",
                                      "date_min", "date_max")}
        assert got == {"rows_read": truth["rows"], "amount_total_pence":
                       truth["amount_total_pence"], "redacted_rows": truth["redacted_rows"],
                       "date_min": truth["date_min"], "date_max": truth["date_max"]}, truth["path"]
        assert report["rows_quarantined"] == 0, truth["path"]
        checked += 1
    assert checked == len(world.truth["files"]) - 1
    rows = sum(f["rows"] for f in world.truth["files"])
    assert 2000 <= rows <= 4000


def test_the_files_carry_the_real_quirks(world, reports):
    formats = {(r["format"], r["encoding"]) for r in reports.values()}
    assert {("csv", "cp1252"), ("csv", "utf-8-sig"), ("xlsx", None), ("zip", "utf-8")} <= formats
    workbook = next(r for r in reports.values() if r["format"] == "xlsx")
    assert len(workbook["sheets"]) == 6
    northmoor = b"".join(p.read_bytes() for p in
                         sorted((world.www / "northmoor-borough-council/files").glob("*.csv")))
    assert b"Net Amount (\xa3)" in northmoor and b'"\xa31,' in northmoor
    assert b'"(' in northmoor and b"-," in northmoor  # both ways of writing a credit note
    assert any(r["totals_rows"] for r in reports.values())
    assert sum(r["skipped"].get("preamble", 0) for r in reports.values()) == 12
    leisure = [world.root / f["path"] for f in world.truth["files"]
               if f["publisher"] == "northmoor-leisure-trust"]
    assert re.search(r"^\d{2}-Jun-25,", leisure[0].read_text(), re.M)  # d-Mon-yy dates
    housing = [f for f in world.truth["files"] if f["publisher"] == "fellside-homes"]
    with zipfile.ZipFile(world.root / housing[0]["path"]) as archive:
        [member] = archive.namelist()
        assert re.search(rb"^FH\d+,\d{2}/\d{2}/25,", archive.read(member), re.M)  # dd/mm/yy
    fellbrook = world.root / next(f["path"] for f in world.truth["files"]
                                  if f["publisher"] == "fellbrook-council")
    assert fellbrook.read_bytes().startswith(b"\xef\xbb\xbfBody Name,")
    assert re.search(r",2025-04-\d{2},", fellbrook.read_text("utf-8-sig"))  # ISO dates
    assert all(r["notes"] == [] for r in reports.values())  # the totals row adds up


def test_the_served_world_leads_from_each_feed_to_its_files(tmp_path):
    with LocalServer(tmp_path / "www") as server:
        served = build_demo_world(tmp_path, server.url)
        found = set()
        for publisher in load_registry(served.registry_path):
            for feed in publisher.feeds:
                found |= _feed_urls(feed)
        statuses = {url: requests.get(url, timeout=5).status_code for url in found}
    expected = {f["url"] for f in served.truth["files"]}
    assert found == expected
    assert set(statuses.values()) == {200}


def _feed_urls(feed) -> set[str]:
    if feed.kind == "urls":
        return set(feed.urls)
    if feed.kind == "ckan":
        answer = requests.get(f"{feed.url}/api/3/action/package_show",
                              params={"id": feed.dataset}, timeout=5).json()
        return {r["url"] for r in answer["result"]["resources"]}
    page = requests.get(feed.url, timeout=5)
    links = {urljoin(page.url, href) for href in re.findall(r'href="([^"]+)"', page.text)}
    return {link for link in links if re.search(feed.pattern, link)}


def test_the_broken_publisher_is_refused(world, reports):
    [broken] = [f for f in world.truth["files"] if f.get("broken")]
    assert broken["publisher"] == FLT == world.truth["broken"]["publisher"]
    assert broken["path"].endswith(".xlsx")
    report = reports[broken["path"]]
    assert report["kind"] == "not_spend"
    assert "HTML" in report["failure"]


def test_republish_changes_the_served_file(tmp_path):
    built = build_demo_world(tmp_path, BASE)
    republished = built.truth["republished"]
    first, second = republished["versions"]
    assert second["rows"] == first["rows"] + 1
    assert second["amount_total_pence"] != first["amount_total_pence"]
    path = built.root / republished["path"]
    with LocalServer(built.www) as server:
        url_path = republished["url"].removeprefix(BASE)
        before = requests.get(server.url + url_path, timeout=5)
        url = built.republish()
        assert url == republished["url"]
        after = requests.get(server.url + url_path,
                             headers={"If-None-Match": before.headers["ETag"]}, timeout=5)
    assert after.status_code == 200 and after.content != before.content
    assert after.headers["Last-Modified"] != before.headers["Last-Modified"]
    report = report_file(path, "spend", republished["publisher"]).to_json()
    assert (report["rows_read"], report["amount_total_pence"], report["redacted_rows"],
            report["date_min"], report["date_max"]) == (
        second["rows"], second["amount_total_pence"], second["redacted_rows"],
        second["date_min"], second["date_max"])


def test_flows_equal_the_generated_rows(world):
    # Recomputed from the generator's own rows, never from the reader.
    ledger = generate_ledger()
    assert world.truth["flows"] == build_truth_flows(ledger.payments)
    assert world.truth["flows_after_republish"] == build_truth_flows(ledger.after_republish())
    total = sum(f["amount_pence"] for f in world.truth["flows"])
    assert total == sum(f["amount_total_pence"] for f in world.truth["files"])
    for pid, summary in world.truth["publishers"].items():
        assert summary["spent_pence"] == sum(p.pence for p in ledger.payments if p.payer == pid)
        assert summary["received_pence"] == sum(p.pence for p in ledger.payments
                                                if p.entity == pid)


def test_money_flows_from_councils_to_providers_to_their_suppliers(world):
    publishers = world.truth["publishers"]
    for provider in PROVIDERS:
        assert publishers[provider]["received_pence"] > 0
        assert publishers[provider]["spent_pence"] < publishers[provider]["received_pence"]
    councils = {pid for pid, e in PUBLISHERS.items() if e["kind"] == "council"}
    for both in ("brookfield-care", "fellside-homes"):
        assert set(publishers[both]["paid_by"]) == councils
    assert any(len(payers) >= 4 for payers in world.truth["shared_suppliers"].values())
    flows = world.truth["flows"]
    leisure_spellings = {f["payee"] for f in flows if f["payee_id"] == "northmoor-leisure-trust"}
    assert len(leisure_spellings) == 3
    redacted = {f["payee"] for f in flows if f["payee"].startswith("REDACTED")}
    assert redacted == {"REDACTED PERSONAL DATA", "REDACTED COMMERCIAL CONFIDENTIALITY"}
    assert any(f["payer"] == "brookfield-care" and f["payee"].startswith("REDACTED")
               for f in flows)
    public_bodies = {f["payee"] for f in flows if f["payee_id"] in councils}
    assert {"Northmoor Borough Council", "FELLBROOK MBC"} <= public_bodies


def build_truth_flows(payments) -> list[dict]:
    """Flows recomputed here, independently of sources.demo_world.flows."""
    sums: Counter = Counter()
    rows: Counter = Counter()
    for p in payments:
        key = (p.payer, p.payee, p.entity if p.entity in PUBLISHERS else None)
        sums[key] += p.pence
        rows[key] += 1
    return [{"payer": k[0], "payee": k[1], "payee_id": k[2], "amount_pence": sums[k],
             "rows": rows[k]} for k in sorted(sums, key=lambda k: (k[0], k[1], k[2] or ""))]
