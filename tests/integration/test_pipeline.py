"""End to end over a real local HTTP server: the demo world harvested, loaded, published."""

import asyncio
import datetime
import json
import socket
import sqlite3
import subprocess
import sys
import time

import dagster as dg
import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from orchestration.assets import publisher_partitions, raw_files, warehouse_files
from orchestration.checks import ALL_CHECKS, CHECK_NAMES
from orchestration.cli import main
from orchestration.demo import run_demo
from orchestration.resources import make_resources
from orchestration.runner import run_pipeline
from orchestration.schedules import weekly_harvest
from orchestration.sensors import new_publishers
from sources.demo_server import LocalServer
from sources.demo_world import build_demo_world, generate_ledger
from sources.registry import load_registry
from warehouse.engine import connect, warehouse_url
from warehouse.serving import make_datasette
from warehouse.tables import (
    files,
    flows,
    metadata,
    payments,
    publishers,
    supplier_aliases,
    suppliers,
)


def snapshot(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
                for t in metadata.sorted_tables}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One full `moneytrail demo` run (two harvests, with a republication between)."""
    data = tmp_path_factory.mktemp("demo")
    summaries, site_dir = run_demo(data)
    truth = json.loads((data / "demo-world" / "truth.json").read_text())
    return data, {s.publisher_id: s for s in summaries}, site_dir, truth


@pytest.fixture
def engine(demo):
    engine = connect(warehouse_url(demo[0]))
    yield engine
    engine.dispose()


def test_every_working_publisher_loads_exactly_its_files(demo, engine):
    _, summaries, _, truth = demo
    assert {k: s.status for k, s in summaries.items()} == {
        "northmoor-borough-council": "ok", "fellbrook-council": "ok",
        "northmoor-leisure-trust": "ok", "fellside-homes": "ok", "brookfield-care": "ok",
        "fellbrook-learning-trust": "error"}
    skip = {truth["republished"]["url"], truth["broken"]["url"]}
    expected = {f["url"]: f for f in truth["files"] if f["url"] not in skip}
    expected[truth["republished"]["url"]] = truth["republished"]["versions"][-1]
    with engine.connect() as conn:
        held = {row.url: row for row in conn.execute(
            sa.select(files.c.url, files.c.rows_read, files.c.amount_total_pence,
                      files.c.redacted_rows, files.c.date_min, files.c.date_max)
            .where(files.c.status == "current"))}
        loaded = dict(conn.execute(sa.select(payments.c.file_id.label("f"),
                                             sa.func.sum(payments.c.amount_pence))
                                   .group_by(payments.c.file_id)).all())
    assert set(held) == set(expected)
    for url, want in expected.items():
        row = held[url]
        assert (row.rows_read, row.amount_total_pence, row.redacted_rows, row.date_min,
                row.date_max) == (want["rows"], want["amount_total_pence"],
                                  want["redacted_rows"], want["date_min"], want["date_max"])
    assert sum(loaded.values()) == sum(f["amount_total_pence"] for f in expected.values())


def test_the_demo_worlds_money_is_followed_to_the_penny_across_every_hop(demo, engine):
    """Every generated payment (bar the withheld and the broken file's) is in `flows`, under
    one id per organisation, totalled per payer and payee to the penny, at its payer's hop."""
    data, _, _, truth = demo
    rows = [p for p in generate_ledger().after_republish()
            if not truth["broken"]["url"].endswith("/" + p.file) and not p.withheld]
    with engine.connect() as conn:
        publisher_of = {r.id: r.publisher_id for r in conn.execute(sa.select(suppliers))}
        payee_of = {(r.publisher_id, r.spelling): publisher_of.get(r.supplier_id) or r.supplier_id
                    for r in conn.execute(sa.select(supplier_aliases))}
        got = {(r.payer_id, r.payee_id): (int(r.pence), r.low, r.high) for r in conn.execute(
            sa.select(flows.c.payer_id, flows.c.payee_id,
                      sa.func.sum(flows.c.amount_pence).label("pence"),
                      sa.func.min(flows.c.hop).label("low"), sa.func.max(flows.c.hop).label("high"))
            .group_by(flows.c.payer_id, flows.c.payee_id))}
    ids: dict[str, set[str]] = {}
    want: dict[tuple[str, str], int] = {}
    for p in rows:
        payee = payee_of[(p.payer, p.payee.strip())]
        ids.setdefault(p.entity, set()).add(payee)
        want[(p.payer, payee)] = want.get((p.payer, payee), 0) + p.pence
    assert {entity: len(found) for entity, found in ids.items() if len(found) > 1} == {}
    assert len({min(found) for found in ids.values()}) == len(ids)  # no two merged
    assert {key: pence for key, (pence, _, _) in got.items()} == want
    assert sum(want.values()) == sum(p.pence for p in rows)

    registry = load_registry(data / "demo-world" / "registry.yaml")

    def hop(publisher_id: str) -> int:
        above = registry[publisher_id].commissioners
        return 1 if not above else 1 + min(hop(c) for c in above)

    assert {key: (low, high) for key, (_, low, high) in got.items()} == {
        key: (hop(key[0]), hop(key[0])) for key in want}
    assert {hop(payer) for payer, _ in want} >= {1, 2}  # councils, and the providers they pay


def test_the_broken_publisher_is_reported_with_its_reason(demo, engine):
    summary = demo[1]["fellbrook-learning-trust"]
    assert "an HTML page was served where a spreadsheet was expected" in summary.message
    with engine.connect() as conn:
        status = conn.execute(sa.select(publishers.c.status, publishers.c.status_message)
                              .where(publishers.c.id == "fellbrook-learning-trust")).one()
    assert status.status == "error" and "HTML page" in status.status_message


def test_the_republished_file_supersedes_its_predecessor(demo, engine):
    url = demo[3]["republished"]["url"]
    with engine.connect() as conn:
        versions = conn.execute(sa.select(files.c.id, files.c.version, files.c.status,
                                          files.c.superseded_by)
                                .where(files.c.url == url).order_by(files.c.version)).all()
        rows = conn.execute(sa.select(sa.func.count()).where(
            payments.c.file_id == versions[-1].id)).scalar()
        stale = conn.execute(sa.select(sa.func.count()).where(
            payments.c.file_id == versions[0].id)).scalar()
    assert [(v.version, v.status) for v in versions] == [(1, "superseded"), (2, "current")]
    assert versions[0].superseded_by == versions[1].id
    assert rows == demo[3]["republished"]["versions"][-1]["rows"] and stale == 0


def test_a_second_run_changes_nothing_and_does_not_rebuild_the_site(demo, engine):
    data, site_db = demo[0], demo[2] / "moneytrail.db"
    before, built = snapshot(engine), site_db.stat()
    with LocalServer(data / "demo-world" / "www", _port(demo[3])) :
        run_pipeline(data / "demo-world" / "registry.yaml", data, allow_private=True)
    assert snapshot(engine) == before
    after = site_db.stat()
    assert (after.st_ino, after.st_mtime_ns) == (built.st_ino, built.st_mtime_ns)


def test_the_site_has_a_database_per_publisher(demo):
    site_dir = demo[2]
    names = sorted(p.stem for p in site_dir.glob("*.db"))
    assert names == sorted(["moneytrail", *demo[1]])
    with sqlite3.connect(site_dir / "moneytrail.db") as db:
        count = db.execute("select count(*) from payments").fetchone()[0]
    assert count == sum(s.rows for s in demo[1].values())
    assert json.loads((site_dir / "metadata.json").read_text())["databases"][
        "brookfield-care"]["title"] == "Brookfield Care Services Ltd"


def _port(truth) -> int:
    return int(truth["base_url"].rsplit(":", 1)[1])


@pytest.fixture
def world(tmp_path):
    """A fresh demo world on its own server, for tests that change what is served."""
    www = tmp_path / "world" / "www"
    www.mkdir(parents=True)
    with LocalServer(www) as server:
        yield build_demo_world(tmp_path / "world", server.url), tmp_path / "data"


def test_a_404_for_a_known_file_keeps_its_data(world):
    built, data = world
    pub = "fellside-homes"
    run_pipeline(built.registry_path, data, [pub], allow_private=True)
    gone = next(f for f in built.truth["files"] if f["publisher"] == pub)
    (built.root / gone["path"]).unlink()
    [summary] = run_pipeline(built.registry_path, data, [pub], allow_private=True)
    engine = connect(warehouse_url(data))
    with engine.connect() as conn:
        status = conn.execute(sa.select(files.c.status, files.c.status_message)
                              .where(files.c.url == gone["url"])).one()
        kept = conn.execute(sa.select(sa.func.count()).select_from(payments)).scalar()
    engine.dispose()
    assert status.status == "withdrawn" and "404" in status.status_message
    assert kept == sum(f["rows"] for f in built.truth["files"] if f["publisher"] == pub)
    assert summary.status == "ok" and summary.rows == kept


def test_dagster_definitions_load_and_a_partition_materialises_with_its_checks(world):
    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)
    built, data = world
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(publisher_partitions.name, ["brookfield-care"])
        result = dg.materialize(
            [raw_files, warehouse_files, *ALL_CHECKS], partition_key="brookfield-care",
            instance=instance,
            resources=make_resources(str(built.registry_path), str(data), True))
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert set(checks) == {k.name for c in ALL_CHECKS for k in c.check_keys} == set(CHECK_NAMES)
    assert checks["schema_conformance"] and checks["reconciliation"]
    materialised = result.asset_materializations_for_node("warehouse_files")[0]
    assert materialised.metadata["rows_loaded"].value == 302


def test_the_sensor_adds_new_registry_publishers_and_the_schedule_runs_each(world):
    built, data = world
    with dg.instance_for_test() as instance:
        check_sensor_and_schedule(instance, make_resources(str(built.registry_path),
                                                           str(data), True))


def check_sensor_and_schedule(instance, resources):
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = new_publishers(context)
    [request] = result.dynamic_partitions_requests
    assert len(request.partition_keys) == 6 and len(result.run_requests) == 6
    instance.add_dynamic_partitions(publisher_partitions.name, list(request.partition_keys))
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        assert isinstance(new_publishers(context), dg.SkipReason)
    when = datetime.datetime(2026, 11, 23, 5, tzinfo=datetime.UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    assert sorted(r.partition_key for r in weekly_harvest(context)) == sorted(
        request.partition_keys)


def test_cli_run_prints_a_summary_per_publisher(world, monkeypatch):
    built, data = world
    monkeypatch.setenv("MONEYTRAIL_ALLOW_PRIVATE", "1")
    result = CliRunner().invoke(main, [
        "run", "--registry", str(built.registry_path), "--data-dir", str(data),
        "--publisher", "northmoor-leisure-trust", "--publisher", "fellbrook-learning-trust"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["publisher", "files", "rows", "quarant.", "total", "status"]
    assert lines[1].split()[:3] == ["northmoor-leisure-trust", "2", "196"]
    assert "error" in lines[2] and "HTML page" in lines[3]


def test_cli_run_refuses_private_addresses_by_default(world, monkeypatch):
    built, data = world
    monkeypatch.delenv("MONEYTRAIL_ALLOW_PRIVATE", raising=False)
    result = CliRunner().invoke(main, [
        "run", "--registry", str(built.registry_path), "--data-dir", str(data),
        "--publisher", "brookfield-care", "--json"])
    [summary] = json.loads(result.stdout)
    assert summary["status"] == "error" and "private address" in summary["message"]


def test_cli_load_previews_local_files(tmp_path):
    spend = tmp_path / "march.csv"
    spend.write_text("Supplier Name,Payment Date,Amount,Expense Area\n"
                     "ACME LTD,01/03/2025,100.00,Parks\nBETA,02/03/2025,#REF!,Parks\n")
    data = tmp_path / "data"
    result = CliRunner().invoke(main, ["load", str(spend), "--publisher", "my-trust",
                                       "--name", "My Trust", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "march.csv: loaded, 1 rows loaded, 1 quarantined" in result.output
    assert (data / "site" / "my-trust.db").exists()
    again = CliRunner().invoke(main, ["load", str(spend), "--publisher", "my-trust",
                                      "--name", "My Trust", "--data-dir", str(data)])
    assert "march.csv: unchanged" in again.output
    assert "no payees to resolve; site unchanged" in again.stderr
    other = tmp_path / "april.csv"
    other.write_text(spend.read_text().replace("ACME LTD", "GAMMA LTD"), encoding="utf-8")
    second = CliRunner().invoke(main, ["load", str(other), "--publisher", "our-trust",
                                       "--data-dir", str(data)])
    assert second.exit_code == 0, second.output
    assert ("payees resolved again for 1 publisher(s) (1 new spellings); site updated: 1 of 2 "
            "publishers' databases rebuilt, the combined one updated in place") in second.stderr


def test_cli_load_refuses_an_id_the_site_cannot_route_and_keeps_a_loaded_name(tmp_path):
    spend = tmp_path / "march.csv"
    spend.write_text("Supplier Name,Payment Date,Amount\nACME LTD,01/03/2025,100.00\n")
    data = tmp_path / "data"
    refused = CliRunner().invoke(main, ["load", str(spend), "--publisher", "GB-LAE-X",
                                        "--data-dir", str(data)])
    assert refused.exit_code == 2
    assert "publisher id 'GB-LAE-X' is not a lower-case slug" in refused.output
    assert "such as 'gb-lae-x'" in refused.output
    assert not (data / "warehouse.db").exists()  # nothing loaded under the refused id
    for name in (["--name", "Exton Council"], []):  # the second load gives no name
        loaded = CliRunner().invoke(main, ["load", str(spend), "--publisher", "gb-lae-x",
                                           *name, "--data-dir", str(data)])
        assert loaded.exit_code == 0, loaded.output
    datasette = make_datasette(data / "site")
    try:
        page = asyncio.run(datasette.client.get("/publisher/gb-lae-x"))
        home = asyncio.run(datasette.client.get("/"))
    finally:
        for database in datasette.databases.values():
            database.close()
    assert page.status_code == 200 and "Exton Council" in page.text
    assert 'href="/publisher/gb-lae-x"' in home.text and "Exton Council" in home.text


@pytest.mark.parametrize(("asked", "taken"), [
    ("moorland", "Moorland Energy Supply Ltd"),           # part of a supplier's name
    ("BROOKFIELD care", "Brookfield Care Services Ltd"),  # part of a publisher's, any case
])
def test_cli_trace_takes_part_of_a_name_and_says_what_it_took(demo, asked, taken):
    result = CliRunner().invoke(main, ["trace", asked, "--data-dir", str(demo[0])])
    assert result.exit_code == 0, result.output
    assert f"{asked!r} taken as {taken}" in result.stderr
    assert result.stdout.startswith(taken)


def test_cli_trace_lists_the_matches_of_an_ambiguous_or_misspelt_name(demo):
    several = CliRunner().invoke(main, ["trace", "fellbrook", "--data-dir", str(demo[0])])
    assert several.exit_code == 1 and "'fellbrook' fits" in several.output
    assert "Fellbrook Metropolitan Borough Council (fellbrook-council)" in several.output
    misspelt = CliRunner().invoke(main, ["trace", "Fellbrok council", "--data-dir",
                                         str(demo[0])])
    assert misspelt.exit_code == 1 and "did you mean:" in misspelt.output
    assert "Fellbrook Metropolitan Borough Council (fellbrook-council)" in misspelt.output


def test_cli_trace_shows_a_provider_whose_files_failed_as_no_data(demo):
    # The demo's learning trust serves an HTML page where its spreadsheet should be.
    assert demo[1]["fellbrook-learning-trust"].status == "error"
    result = CliRunner().invoke(main, ["trace", "fellbrook-council", "--data-dir",
                                       str(demo[0])])
    [line] = [x for x in result.stdout.splitlines() if "Fellbrook Learning Trust" in x]
    assert "no data" in line and "passes on" not in line and "0%" not in line
    assert "passes on 56% of what publishers pay it" in result.stdout  # Brookfield's share


def test_payment_links_last_across_a_republish_for_every_payment_that_did_not_change(tmp_path):
    lines = ["Supplier Name,Payment Date,Amount,Transaction Number,Description",
             "ACME LTD,01/03/2025,100.00,T1,Paper",
             "BETA LTD,02/03/2025,200.00,,Chairs",
             "BETA LTD,02/03/2025,200.00,,Chairs",  # the same line twice: two payments
             "GAMMA LTD,03/03/2025,300.00,T3,Desks"]
    first, second = tmp_path / "one" / "march.csv", tmp_path / "two" / "march.csv"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_text("\n".join(lines) + "\n")
    # The republished file: a row inserted at the top, a description corrected, a duplicate
    # dropped and an amount changed; the same name, so the same series.
    second.write_text("\n".join([lines[0], "DELTA LTD,04/03/2025,50.00,T4,Pens",
                                 lines[1].replace("Paper", "Printer paper"), lines[2],
                                 lines[4].replace("300.00", "330.00")]) + "\n")
    data = tmp_path / "data"

    def ids() -> dict[tuple, list[int]]:
        with sqlite3.connect(data / "site" / "my-trust.db") as db:
            found: dict[tuple, list[int]] = {}
            for row in db.execute("select beneficiary_name, amount_pence, id from payments "
                                  "order by id"):
                found.setdefault(row[:2], []).append(row[2])
            return found

    for path in (first, second):
        loaded = CliRunner().invoke(main, ["load", str(path), "--publisher", "my-trust",
                                           "--name", "My Trust", "--data-dir", str(data)])
        assert loaded.exit_code == 0, loaded.output
        if path is first:
            before = ids()
    after = ids()
    assert after[("ACME LTD", 10000)] == before[("ACME LTD", 10000)]  # purpose corrected
    assert len(before[("BETA LTD", 20000)]) == 2 and len(after[("BETA LTD", 20000)]) == 1
    assert after[("BETA LTD", 20000)][0] in before[("BETA LTD", 20000)]
    assert ("GAMMA LTD", 33000) in after and after[("GAMMA LTD", 33000)] != before[
        ("GAMMA LTD", 30000)]
    assert all(2 ** 61 <= i < 2 ** 62 for found in after.values() for i in found)
    with sqlite3.connect(data / "site" / "moneytrail.db") as db:
        combined = {row[0] for row in db.execute("select id from payments")}
    assert combined == {i for found in after.values() for i in found}
    # A link to a payment the new version dropped says so, and what may have replaced it.
    [old_gamma], [new_gamma] = before[("GAMMA LTD", 30000)], after[("GAMMA LTD", 33000)]
    [dropped] = set(before[("BETA LTD", 20000)]) - set(after[("BETA LTD", 20000)])
    datasette = make_datasette(data / "site")
    try:
        pages = {(db, i): asyncio.run(datasette.client.get(f"/{db}/payments/{i}"))
                 for db in ("my-trust", "moneytrail") for i in (old_gamma, dropped, 2 ** 61 + 1)}
    finally:
        for database in datasette.databases.values():
            database.close()
    for db in ("my-trust", "moneytrail"):
        gone = pages[(db, old_gamma)]
        assert gone.status_code == 410 and "This payment was withdrawn" in gone.text
        assert "£300.00" in gone.text and "GAMMA LTD" in gone.text and "march.csv" in gone.text
        assert f'href="/{db}/payments/{new_gamma}"' in gone.text  # same transaction number
        beta = pages[(db, dropped)]
        assert beta.status_code == 410
        assert f'href="/{db}/payments/{after[("BETA LTD", 20000)][0]}"' in beta.text
        assert pages[(db, 2 ** 61 + 1)].status_code == 404  # never a payment: not found


def test_cli_demo_builds_the_site_without_serving(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--no-serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "brookfield-care" in result.stdout and "site built in" in result.stdout
    assert (tmp_path / "site" / "moneytrail.db").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_site_is_served_by_datasette_over_http(demo):
    port = free_port()
    command = [sys.executable, "-m", "orchestration.cli", "serve", "--data-dir", str(demo[0]),
               "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        home = _wait_for(f"http://127.0.0.1:{port}/.json")
        assert "brookfield-care" in home.json()
        table = requests.get(f"http://127.0.0.1:{port}/moneytrail/payments.json?_size=1",
                             timeout=10).json()
        assert table["rows"] and "amount_pence" in table["columns"]
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


def _wait_for(url: str, seconds: float = 30.0) -> requests.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_rerun_loads_only_publishers_with_something_new(demo, engine, tmp_path):
    """Every publisher is harvested, but only one whose archive holds a version the warehouse
    has not loaded gets a Dagster run: here none (and a warehouse that lost its loads would
    have them all loaded again)."""
    from orchestration.runner import _behind
    from sources.archive import Archive
    from warehouse.engine import connect

    data = demo[0]
    said: list[str] = []
    with LocalServer(data / "demo-world" / "www", _port(demo[3])):
        run_pipeline(data / "demo-world" / "registry.yaml", data, allow_private=True,
                     tell=said.append)
    registry = load_registry(data / "demo-world" / "registry.yaml")
    count = len(registry.publishers)
    assert said == [f"{count} of {count} publishers had nothing new: not loaded again, their "
                    "checks not rerun", "flows and site: nothing changed"]
    archive = Archive(data / "raw")
    assert not any(_behind(engine, archive, p) for p in registry.publishers)
    empty = connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
    harvested = {r.publisher_id for r in archive._latest.values()}
    assert harvested and all(_behind(empty, archive, p) for p in harvested)
    empty.dispose()


def test_a_check_that_cannot_be_worked_out_fails_with_its_error_and_the_others_are_given(
        world, monkeypatch):
    """The six checks are one step: one raising must not take the other five with it."""
    from orchestration import checks as publisher_checks

    def broken(*_):
        raise RuntimeError("the archive could not be read")

    what, severity, blocking, _ = publisher_checks.CHECKS["timeliness"]
    monkeypatch.setitem(publisher_checks.CHECKS, "timeliness", (what, severity, blocking, broken))
    built, data = world
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(publisher_partitions.name, ["brookfield-care"])
        result = dg.materialize(
            [raw_files, warehouse_files, *ALL_CHECKS], partition_key="brookfield-care",
            instance=instance, raise_on_error=False,
            resources=make_resources(str(built.registry_path), str(data), True))
    found = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(found) == set(CHECK_NAMES)
    assert not found["timeliness"].passed
    assert "the archive could not be read" in found["timeliness"].description
    assert found["schema_conformance"].passed and found["reconciliation"].passed
