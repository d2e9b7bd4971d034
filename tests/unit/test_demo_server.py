"""LocalServer over real sockets: files, conditional requests, CKAN lookups and injected faults."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import time
from pathlib import Path

import pytest
import requests

from sources.demo_server import DRIP_BYTES, Fault, LocalServer

CSV = b"Supplier Name,Payment Date,Amount\r\n" + b"ACME LTD,01/04/2025,1234.56\r\n" * 40
MTIME = 1_759_276_800  # 2025-10-01 00:00:00 UTC


@pytest.fixture
def site(tmp_path: Path) -> Path:
    www = tmp_path / "www"
    (www / "council" / "files").mkdir(parents=True)
    (www / "council" / "files" / "spend.csv").write_bytes(CSV)
    (www / "council" / "index.html").write_text('<a href="files/spend.csv">April</a>')
    (www / "empty-dir").mkdir()
    (www / "ckan").mkdir()
    dataset = {"success": True, "result": {"name": "spend", "resources": [
        {"url": "http://example.invalid/spend.csv", "format": "CSV", "name": "April"}]}}
    (www / "ckan" / "spend.json").write_text(json.dumps(dataset))
    (tmp_path / "secret.txt").write_text("outside the root")
    os.utime(www / "council" / "files" / "spend.csv", (MTIME, MTIME))
    return www


@pytest.fixture
def server(site: Path):
    with LocalServer(site) as running:
        yield running


def test_serves_a_file_with_validators(server):
    answer = requests.get(server.url + "/council/files/spend.csv", timeout=5)
    assert answer.status_code == 200
    assert answer.content == CSV
    assert answer.headers["Content-Length"] == str(len(CSV))
    assert answer.headers["Content-Type"] == "text/csv"
    assert answer.headers["ETag"] == '"' + hashlib.sha256(CSV).hexdigest() + '"'
    assert answer.headers["Last-Modified"] == "Wed, 01 Oct 2025 00:00:00 GMT"
    assert server.url.startswith("http://127.0.0.1:")


def test_head_has_headers_and_no_body(server):
    answer = requests.head(server.url + "/council/files/spend.csv", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Length"] == str(len(CSV))
    assert answer.content == b""


def test_conditional_requests_get_304(server):
    url = server.url + "/council/files/spend.csv"
    first = requests.get(url, timeout=5)
    by_tag = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
    by_date = requests.get(
        url, headers={"If-Modified-Since": first.headers["Last-Modified"]}, timeout=5)
    older = requests.get(
        url, headers={"If-Modified-Since": "Tue, 30 Sep 2025 00:00:00 GMT"}, timeout=5)
    other_tag = requests.get(url, headers={"If-None-Match": '"something-else"'}, timeout=5)
    assert (by_tag.status_code, by_tag.content) == (304, b"")
    assert by_tag.headers["ETag"] == first.headers["ETag"]
    assert (by_date.status_code, by_date.content) == (304, b"")
    assert older.status_code == 200 and older.content == CSV
    assert other_tag.status_code == 200


def test_unknown_path_is_404_html(server):
    answer = requests.get(server.url + "/council/files/missing.csv", timeout=5)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("text/html")
    assert b"Not Found" in answer.content


def test_directory_serves_its_index_or_404(server):
    index = requests.get(server.url + "/council/", timeout=5)
    assert index.status_code == 200 and b"files/spend.csv" in index.content
    assert index.headers["Content-Type"].startswith("text/html")
    no_slash = requests.get(server.url + "/council", timeout=5)
    assert no_slash.status_code == 200 and no_slash.url.endswith("/council/")
    assert requests.get(server.url + "/empty-dir/", timeout=5).status_code == 404


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/council/..%2f..%2fsecret.txt", "/..%5csecret.txt",
])
def test_path_traversal_is_refused(server, path):
    # http.client sends the path as written; requests would normalise the dots away.
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", path)
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    assert answer.status == 404
    assert b"outside the root" not in body


def test_ckan_package_show(server):
    found = requests.get(server.url + "/api/3/action/package_show", params={"id": "spend"},
                         timeout=5)
    assert found.status_code == 200
    assert found.json()["result"]["resources"][0]["format"] == "CSV"
    missing = requests.get(server.url + "/api/3/action/package_show?id=nothing", timeout=5)
    assert missing.status_code == 404 and missing.json()["success"] is False
    sneaky = requests.get(server.url + "/api/3/action/package_show?id=../ckan/spend", timeout=5)
    assert sneaky.status_code == 404


def test_fault_status(server):
    path = "/council/files/spend.csv"
    server.faults[path] = Fault(status=500)
    assert requests.get(server.url + path, timeout=5).status_code == 500
    assert requests.get(server.url + path, timeout=5).status_code == 500
    del server.faults[path]
    assert requests.get(server.url + path, timeout=5).status_code == 200


def test_fault_fail_times_then_success(server):
    path = "/council/files/spend.csv"
    server.faults[path] = Fault(status=502, fail_times=2)
    codes = [requests.get(server.url + path, timeout=5).status_code for _ in range(3)]
    assert codes == [502, 502, 200]
    server.faults[path] = Fault(fail_times=1)
    codes = [requests.get(server.url + path, timeout=5).status_code for _ in range(2)]
    assert codes == [503, 200]


def test_fault_html_page_with_200(server):
    path = "/council/files/spend.csv"
    server.faults[path] = Fault(html=True)
    answer = requests.get(server.url + path, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert b"Sorry, page not found" in answer.content


def test_fault_reset_breaks_the_download(server):
    path = "/council/files/spend.csv"
    server.faults[path] = Fault(reset=True)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.get(server.url + path, timeout=5)


def test_fault_truncate_breaks_the_download(server):
    path = "/council/files/spend.csv"
    server.faults[path] = Fault(truncate=100)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.get(server.url + path, timeout=5)


def test_fault_delay(server):
    path = "/council/files/spend.csv"
    server.faults[path] = Fault(delay=0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(server.url + path, timeout=(5, 0.1))
    started = time.monotonic()
    answer = requests.get(server.url + path, timeout=5)
    assert time.monotonic() - started >= 0.3
    assert answer.content == CSV


def test_fault_drip(server):
    path = "/council/files/spend.csv"
    server.faults[path] = Fault(drip=0.05)
    pieces = -(-len(CSV) // DRIP_BYTES)
    started = time.monotonic()
    answer = requests.get(server.url + path, timeout=5)
    assert time.monotonic() - started >= pieces * 0.05
    assert answer.content == CSV
    server.faults[path] = Fault(drip=0.5)
    with pytest.raises((requests.exceptions.ReadTimeout, requests.ConnectionError)):
        requests.get(server.url + path, timeout=(5, 0.2)).content  # noqa: B018


def test_fault_hang_says_nothing_until_the_client_gives_up(server):
    path = "/council/files/spend.csv"
    server.faults[path] = Fault(hang=True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(server.url + path, timeout=(5, 0.2))
    del server.faults[path]
    assert requests.get(server.url + path, timeout=5).content == CSV
    assert server.answered() == [("GET", path, 200)]  # the hung request was never answered


def test_fault_chunked_sends_no_length(server):
    path = "/council/files/spend.csv"
    server.faults[path] = Fault(chunked=True)
    answer = requests.get(server.url + path, timeout=5)
    assert answer.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in answer.headers
    assert answer.content == CSV


def test_stop_releases_a_hanging_connection(site):
    server = LocalServer(site).start()
    server.faults["/council/files/spend.csv"] = Fault(hang=True)
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as client:
        client.sendall(b"GET /council/files/spend.csv HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        server.stop()
        client.settimeout(5)
        assert client.recv(100) == b""  # closed by the server, without an answer


def test_fault_redirect_and_loop(server):
    server.faults["/old.csv"] = Fault(redirect="/council/files/spend.csv")
    moved = requests.get(server.url + "/old.csv", timeout=5)
    assert moved.status_code == 200 and moved.content == CSV
    assert moved.history[0].status_code == 302
    server.faults["/loop.csv"] = Fault(redirect="/loop.csv")
    with pytest.raises(requests.TooManyRedirects):
        requests.get(server.url + "/loop.csv", timeout=5)


def test_requests_log_records_answers(server):
    url = server.url + "/council/files/spend.csv"
    first = requests.get(url, timeout=5)
    requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
    requests.head(url, timeout=5)
    requests.get(server.url + "/nope", timeout=5)
    assert server.answered() == [
        ("GET", "/council/files/spend.csv", 200),
        ("GET", "/council/files/spend.csv", 304),
        ("HEAD", "/council/files/spend.csv", 200),
        ("GET", "/nope", 404),
    ]
    assert server.requests == server.answered()


def test_stop_frees_the_port(site):
    server = LocalServer(site).start()
    url = server.url
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/council/", timeout=1)
    with pytest.raises(RuntimeError):
        server.url  # noqa: B018
