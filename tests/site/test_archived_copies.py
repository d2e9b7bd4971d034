"""The archived copy of every file the site loaded, served by `moneytrail serve` over real HTTP
at /-/archive/<sha256>/<name>: the very bytes, named and typed; 404 for what the site does not
list; withheld (451, saying why) where the file names private individuals the site withholds;
and copied into a published package, withheld files left out."""

import asyncio
import hashlib
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from orchestration.cli import main
from sources.archive import Archive, object_path
from tests.browser.helpers import free_port, wait_for
from tests.site.test_site_privacy import NAME
from warehouse.archived_copies import ARCHIVE_VARIABLE, copy_path
from warehouse.serving import CONFIG_DIR, make_datasette

UNKNOWN = "0" * 64


@pytest.fixture(scope="module")
def served(demo, tmp_path_factory):
    """`moneytrail serve` on the session's demo: its base URL, and the demo's files by
    whether the site withholds them (the demo world names a foster carer in some)."""
    _, site_dir, data = demo
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "serve",
                                   "--data-dir", str(data), "--port", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/.json", server, log_path)
        yield base, _files(site_dir, data / "raw")
    finally:
        server.terminate()
        server.wait(timeout=10)


def _files(site_dir: Path, raw: Path) -> dict[str, list[dict]]:
    with closing(sqlite3.connect(site_dir / "moneytrail.db")) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("select id, url, sha256, format, status from files")]
    naming = {r["sha256"] for r in rows if NAME.encode() in object_path(raw, r["sha256"])
              .read_bytes()}
    return {"clean": [r for r in rows if r["sha256"] not in naming],
            "naming": [r for r in rows if r["sha256"] in naming]}


def test_every_clean_file_is_served_byte_for_byte(served, demo):
    base, files = served
    raw = demo[2] / "raw"
    assert len(files["clean"]) >= 10
    for row in files["clean"]:
        answer = requests.get(base + copy_path(row["sha256"], row["url"]), timeout=30)
        assert answer.status_code == 200, row
        assert answer.content == object_path(raw, row["sha256"]).read_bytes()
        assert hashlib.sha256(answer.content).hexdigest() == row["sha256"]
        assert answer.headers["content-length"] == str(len(answer.content))
        name = row["url"].rsplit("/", 1)[1]
        assert answer.headers["content-disposition"].startswith(f'attachment; filename="{name}"')
        assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("format_, content_type", [
    ("csv", "text/csv"), ("zip", "application/zip"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")])
def test_each_format_is_served_as_what_it_is(served, format_, content_type):
    base, files = served
    row = next(r for r in files["clean"] if r["format"] == format_)
    answer = requests.get(base + copy_path(row["sha256"], row["url"]), timeout=30, stream=True)
    assert answer.headers["content-type"] == content_type


def test_a_file_naming_a_private_individual_is_withheld_saying_why(served, demo):
    base, files = served
    # The planted foster carer is in the archived bytes (so serving them would publish her)...
    assert files["naming"], "the demo world names a private individual in some file"
    for row in files["naming"]:
        answer = requests.get(base + copy_path(row["sha256"], row["url"]), timeout=30)
        # ... and the site answers 451 with a page saying why, linking the publisher's own copy.
        assert answer.status_code == 451
        assert answer.headers["content-type"].startswith("text/html")
        assert NAME not in answer.text
        assert "names private individuals" in answer.text
        assert f'href="{row["url"]}"' in answer.text and row["sha256"] in answer.text


@pytest.mark.parametrize("path", [
    f"/-/archive/{UNKNOWN}",
    f"/-/archive/{UNKNOWN}/spend.csv",
    "/-/archive/xyz",
    "/-/archive/",
    "/-/archive/0123",
    "/-/archive/{sha}x",
    "/-/archive/{SHA}",
    "/-/archive/{sha}/another-name.csv",
    "/-/archive/{sha}/{name}/more",
    "/-/archive/{sha}/../../../../etc/passwd",
    "/-/archive/../../../../etc/passwd",
    "/-/archive/{sha}/..%2F..%2F..%2Fetc%2Fpasswd",
    "/-/archive/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/-/archive/{sha}%2F..%2F..%2Fmanifest.jsonl",
])
def test_anything_the_site_does_not_list_is_404(served, path):
    base, files = served
    row = files["clean"][0]
    path = path.format(sha=row["sha256"], SHA=row["sha256"].upper(),
                       name=row["url"].rsplit("/", 1)[1])
    # Sent as written: requests would otherwise collapse the '..' before sending.
    session = requests.Session()
    prepared = session.prepare_request(requests.Request("GET", base + "/"))
    prepared.url = base + path
    answer = session.send(prepared, timeout=30)
    assert answer.status_code == 404, (path, answer.status_code)
    assert "root:" not in answer.text and '"url"' not in answer.text


def test_the_copy_answers_without_its_name_too(served):
    base, files = served
    row = files["clean"][0]
    answer = requests.get(f"{base}/-/archive/{row['sha256']}", timeout=30)
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == row["sha256"]


def test_the_site_reports_name_the_archived_copy_never_a_local_path(served, demo):
    base, files = served
    for row in files["clean"] + files["naming"]:
        [report] = requests.get(f"{base}/moneytrail/files/{row['id']}.json", timeout=30,
                                params={"_shape": "array"}).json()
        parsed = json.loads(report["report"])
        assert parsed["file"] == copy_path(row["sha256"], row["url"])
        assert str(demo[2]) not in report["report"]
        assert parsed["sha256"] == row["sha256"] and "rows_read" in parsed


def test_the_files_table_links_each_archived_copy(served):
    base, files = served
    page = requests.get(f"{base}/moneytrail/files", timeout=30, params={"_size": 100}).text
    for row in files["clean"]:
        assert f'href="{copy_path(row["sha256"], row["url"])}">archived copy</a>' in page
    for row in files["naming"]:
        assert f'href="{copy_path(row["sha256"], row["url"])}">archived copy withheld</a>' \
            in page


def test_a_payment_cites_the_publishers_url_and_the_archived_copy(served):
    base, files = served
    row = next(r for r in files["clean"] if r["status"] == "current")
    [payment] = requests.get(f"{base}/moneytrail/payments.json", timeout=30, params={
        "_shape": "array", "_size": 1, "file_id": row["id"]}).json()
    page = requests.get(f"{base}/moneytrail/payments/{payment['id']}", timeout=30).text
    archived = base + copy_path(row["sha256"], row["url"])
    assert f'href="{row["url"]}"' in page and f'href="{archived}">archived copy</a>' in page
    assert f"; archived copy: {archived}.</textarea>" in page


# A planted world: a clean file, a file naming a person by title, a file whose payee is
# flagged only in another file, a first version naming a person then corrected, and a file
# that cannot be read.
CLEAN = "Payment Date,Supplier Name,Amount,Expense Type\n01/04/2024,Acme Ltd,700.00,Supplies\n"
TITLED = CLEAN + "05/04/2024,Mrs Q Pennyworth,75.00,Fees\n"
DIRECT = "Payment Date,Supplier Name,Amount,Expense Type\n" \
         "01/05/2024,Adewunmi Oriolowo,600.00,Direct Payments\n"
ELSEWHERE = CLEAN.replace("01/04", "02/06") + "03/06/2024,Adewunmi Oriolowo,40.00,Transport\n"
CORRECTED_FIRST = CLEAN.replace("01/04", "01/07") + "02/07/2024,Mr T Ramsbottom,90.00,Fees\n"
CORRECTED = CLEAN.replace("01/04", "01/07")
PLANTED = [  # (url, contents, expected answer)
    ("https://t.example/clean.csv", CLEAN, 200),
    ("https://t.example/titled.csv", TITLED, 451),
    ("https://t.example/direct.csv", DIRECT, 451),
    ("https://t.example/elsewhere.csv", ELSEWHERE, 451),
    ("https://t.example/corrected.csv", CORRECTED_FIRST, 451),
    ("https://t.example/corrected.csv", CORRECTED, 200),
    ("https://t.example/broken.csv", "\x00\x01PK garbage", 451),
]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from sources.registry import Publisher, Registry
    from warehouse import flows
    from warehouse.engine import connect
    from warehouse.load import load_file, upsert_publisher
    from warehouse.site import build_site

    data = tmp_path_factory.mktemp("planted")
    archive = Archive(data / "raw")
    engine = connect(f"sqlite:///{data / 'warehouse.db'}")
    publisher = Publisher("testshire", "GB-LAE-TST", "Testshire Council", "council")
    upsert_publisher(engine, publisher)
    shas = []
    for i, (url, contents, _) in enumerate(PLANTED):
        download = archive.temporary()
        download.write_bytes(contents.encode())
        shas.append(archive.store(download))
        load_file(engine, publisher, url, archive.path_of(shas[-1]),
                  fetched_at=f"2024-08-0{i + 1}T00:00:00+00:00")
    flows.rebuild(engine, Registry({publisher.id: publisher}))
    build_site(engine, data / "site")
    engine.dispose()
    return data, shas


def _served_in_process(site_dir: Path, config_dir: Path, archive: Path, monkeypatch):
    monkeypatch.setenv(ARCHIVE_VARIABLE, str(archive))
    return make_datasette(site_dir, config_dir)


def test_planted_private_individuals_are_never_served(planted, monkeypatch):
    data, shas = planted
    datasette = _served_in_process(data / "site", CONFIG_DIR, data / "raw", monkeypatch)
    answers = [asyncio.run(datasette.client.get(copy_path(sha, url))).status_code
               for (url, _, _), sha in zip(PLANTED, shas, strict=True)]
    assert [expected for _, _, expected in PLANTED] == answers
    for name in ("Pennyworth", "Oriolowo", "Ramsbottom"):
        for sha in shas:
            answer = asyncio.run(datasette.client.get(f"/-/archive/{sha}"))
            assert answer.status_code != 200 or name not in answer.text


def test_publish_copies_the_served_originals_and_leaves_out_the_withheld(planted, tmp_path,
                                                                         monkeypatch):
    data, shas = planted
    result = CliRunner().invoke(main, ["publish", "--data-dir", str(data),
                                       "--output", str(tmp_path / "package")])
    assert result.exit_code == 0, result.output
    package = tmp_path / "package"
    copied = sorted(p.name for p in (package / "archive" / "objects").glob("*/*"))
    served = sorted(sha for (_, _, code), sha in zip(PLANTED, shas, strict=True) if code == 200)
    assert served == copied
    assert f'export {ARCHIVE_VARIABLE}="$PWD/archive"' in (package / "serve.sh").read_text()
    # The package serves them from its own folder.
    datasette = _served_in_process(package / "site", package / "datasette", package / "archive",
                                   monkeypatch)
    for (url, contents, code), sha in zip(PLANTED, shas, strict=True):
        answer = asyncio.run(datasette.client.get(copy_path(sha, url)))
        assert answer.status_code == code
        if code == 200:
            assert answer.content == contents.encode()
