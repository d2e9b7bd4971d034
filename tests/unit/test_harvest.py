"""Harvesting over real HTTP from a local server: conditional GET, versions, refusals."""

import json
from pathlib import Path

import pytest

from sources.archive import Archive
from sources.demo_server import Fault, LocalServer
from sources.harvest import (
    HarvestError,
    HarvestSettings,
    check_url,
    discover,
    harvest_publisher,
    make_session,
)
from sources.registry import Feed, Publisher

CSV = b"Supplier,Date,Amount\nACME,01/04/2024,100\n"
FAST = HarvestSettings(allow_private=True, retries=2, backoff=0.01, read_timeout=2)


@pytest.fixture
def server(tmp_path):
    www = tmp_path / "www"
    (www / "pub").mkdir(parents=True)
    (www / "pub" / "april.csv").write_bytes(CSV)
    with LocalServer(www) as running:
        yield running


@pytest.fixture
def archive(tmp_path) -> Archive:
    return Archive(tmp_path / "raw")


def publisher(*urls: str, feeds=None) -> Publisher:
    return Publisher(id="pub", org_id="GB-LAE-PUB", name="Pub", kind="council",
                     feeds=feeds or (Feed("urls", urls=urls),))


def harvest(pub, archive, settings=FAST):
    return harvest_publisher(pub, archive, make_session(settings), settings)


def test_new_file_is_archived_by_sha256_and_recorded(server, archive):
    result = harvest(publisher(f"{server.url}/pub/april.csv"), archive)
    [record] = result.records
    assert (record.status, record.http_status, result.error) == ("new", 200, None)
    assert archive.path_of(record.sha256).read_bytes() == CSV
    assert record.etag and record.last_modified
    manifest = [json.loads(line) for line in archive.manifest.read_text().splitlines()]
    assert manifest[0]["url"] == f"{server.url}/pub/april.csv"


def test_second_harvest_asks_conditionally_and_gets_304(server, archive):
    pub = publisher(f"{server.url}/pub/april.csv")
    harvest(pub, archive)
    [record] = harvest(pub, Archive(archive.root)).records  # a fresh process, same manifest
    assert (record.status, record.http_status) == ("unchanged", 304)
    assert server.answered()[-1] == ("GET", "/pub/april.csv", 304)


def test_republished_file_becomes_a_new_version_and_old_bytes_are_kept(server, archive):
    pub = publisher(f"{server.url}/pub/april.csv")
    first = harvest(pub, archive).records[0]
    (server.root / "pub" / "april.csv").write_bytes(CSV + b"BETA,02/04/2024,5\n")
    second = harvest(pub, archive).records[0]
    assert second.status == "updated" and second.sha256 != first.sha256
    assert archive.path_of(first.sha256).exists()


def test_404_for_a_known_file_marks_it_withdrawn(server, archive):
    pub = publisher(f"{server.url}/pub/april.csv")
    harvest(pub, archive)
    (server.root / "pub" / "april.csv").unlink()
    [record] = harvest(pub, archive).records
    assert (record.status, record.http_status) == ("withdrawn", 404)
    assert archive.latest(record.url).sha256  # the bytes and their record are kept


def test_a_withdrawn_file_is_a_notice_not_an_error(server, archive):
    pub = publisher(f"{server.url}/pub/april.csv")
    assert harvest(pub, archive).notice is None
    (server.root / "pub" / "april.csv").unlink()
    result = harvest(pub, archive)
    assert result.error is None
    assert result.notice == (f"{server.url}/pub/april.csv: HTTP 404: the publisher has "
                             "withdrawn this file; its data is kept")


def test_404_for_an_unknown_file_is_an_error(server, archive):
    result = harvest(publisher(f"{server.url}/pub/missing.csv"), archive)
    assert result.records[0].status == "error"
    assert "404" in result.error


@pytest.mark.parametrize(
    "fault, message",
    [
        (Fault(html=True), "an HTML page was served where a spreadsheet was expected"),
        (Fault(status=500), "HTTP 500"),
        (Fault(redirect="/pub/april.csv"), "a redirect loop"),
        (Fault(reset=True), "connection"),
        (Fault(truncate=100), "connection broke off"),
    ],
)
def test_faults_are_reported_and_nothing_is_archived(server, archive, fault, message):
    server.faults["/pub/april.csv"] = fault
    result = harvest(publisher(f"{server.url}/pub/april.csv"), archive)
    assert result.records[0].status == "error"
    assert message in result.error
    assert not list(archive.objects.rglob("*"))


def test_a_long_redirect_chain_is_cut_off(server, archive):
    for hop in range(7):
        server.faults[f"/r{hop}"] = Fault(redirect=f"/r{hop + 1}")
    result = harvest(publisher(f"{server.url}/r0"), archive)
    assert f"more than 5 redirects from {server.url}/r0" in result.error


def test_a_slow_drip_meets_the_file_deadline(server, archive):
    (server.root / "pub" / "april.csv").write_bytes(CSV * 40)  # 7 pieces of 256 bytes
    server.faults["/pub/april.csv"] = Fault(drip=0.2)
    settings = HarvestSettings(allow_private=True, read_timeout=5, file_deadline=0.3)
    result = harvest(publisher(f"{server.url}/pub/april.csv"), archive, settings)
    assert "the download took longer than 0.3 s" in result.error
    assert not list(archive.objects.rglob("*"))


def test_a_chunked_file_without_a_length_is_archived_whole(server, archive):
    (server.root / "pub" / "april.csv").write_bytes(CSV * 5000)  # 205 KB in 64 KiB chunks
    server.faults["/pub/april.csv"] = Fault(chunked=True)
    [record] = harvest(publisher(f"{server.url}/pub/april.csv"), archive).records
    assert record.status == "new"
    assert archive.path_of(record.sha256).read_bytes() == CSV * 5000


def test_transient_503s_are_retried(server, archive):
    server.faults["/pub/april.csv"] = Fault(fail_times=2, status=503)
    assert harvest(publisher(f"{server.url}/pub/april.csv"), archive).records[0].status == "new"


def test_size_cap(server, archive):
    settings = HarvestSettings(allow_private=True, max_bytes=10)
    result = harvest(publisher(f"{server.url}/pub/april.csv"), archive, settings)
    assert "cap" in result.error


@pytest.mark.parametrize("url", ["ftp://example.org/a.csv", "file:///etc/passwd"])
def test_only_http_urls_are_fetched(archive, url):
    assert "only http(s)" in harvest(publisher(url), archive).error


def test_private_addresses_are_refused_outside_demo_and_tests(server, archive):
    result = harvest(publisher(f"{server.url}/pub/april.csv"), archive, HarvestSettings())
    assert "private address" in result.error


@pytest.mark.parametrize("url, allowed", [
    ("http://8.8.8.8/spend.csv", True),
    ("https://[2001:4860:4860::8888]/spend.csv", True),
    ("http://127.0.0.1/spend.csv", False),
    ("http://10.0.0.1/spend.csv", False),
    ("http://169.254.169.254/latest/meta-data/", False),
    ("http://100.64.0.1/spend.csv", False),
    ("http://224.0.0.1/spend.csv", False),
    ("http://[fd00::1]/spend.csv", False),
    ("http://[::ffff:10.0.0.1]/spend.csv", False),
])
def test_only_public_addresses_are_fetched(url, allowed):
    if allowed:
        check_url(url, HarvestSettings())
    else:
        with pytest.raises(HarvestError, match="private address"):
            check_url(url, HarvestSettings())


def test_a_trusted_host_is_fetched_though_private(server, archive):
    settings = HarvestSettings(trusted_hosts=frozenset({"127.0.0.1"}))
    result = harvest(publisher(f"{server.url}/pub/april.csv"), archive, settings)
    assert (result.error, result.records[0].status) == (None, "new")


def test_index_page_feed_lists_matching_links(server):
    (server.root / "pub" / "index.html").write_text(
        '<a href="april.csv">April</a> <a href="/pub/may.xlsx">May</a> <a href="about.html">x</a>'
        ' <a href="april.csv">again</a>')
    feed = Feed("index", url=f"{server.url}/pub/", pattern=r"\.(csv|xlsx)$")
    assert discover(feed, make_session(FAST), FAST) == [
        f"{server.url}/pub/april.csv", f"{server.url}/pub/may.xlsx"]


def test_ckan_feed_lists_resources(server):
    (server.root / "ckan").mkdir()
    resources = [{"url": f"{server.url}/pub/april.csv", "format": "CSV"}]
    (server.root / "ckan" / "spend.json").write_text(json.dumps(
        {"success": True, "result": {"name": "spend", "resources": resources}}))
    feed = Feed("ckan", url=server.url, dataset="spend")
    assert discover(feed, make_session(FAST), FAST) == [f"{server.url}/pub/april.csv"]


def test_a_failing_feed_still_rechecks_known_files(server, archive):
    pub = publisher(f"{server.url}/pub/april.csv")
    harvest(pub, archive)
    broken = publisher(feeds=(Feed("index", url=f"{server.url}/nowhere/", pattern="csv"),))
    result = harvest(broken, archive)
    assert "feed" in result.error
    assert [r.status for r in result.records] == ["unchanged"]


def test_archive_survives_a_restart(tmp_path, server):
    root = tmp_path / "raw"
    harvest(publisher(f"{server.url}/pub/april.csv"), Archive(root))
    again = Archive(Path(root))
    assert again.known_urls("pub") == [f"{server.url}/pub/april.csv"]
