"""Incremental publishing: a change rebuilds only the publishers it affects, and the site and
the flows it leaves equal those a full build makes from the same warehouse; a generation a
server holds is never written, and an update that fails leaves the site as it was."""

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from sources.archive import Archive
from sources.registry import Publisher
from warehouse import flows, generations
from warehouse import site as warehouse_site
from warehouse.engine import connect
from warehouse.ingest import published_by_publisher
from warehouse.load import load_file, upsert_publisher
from warehouse.site import build_site

SMALL = """Body Name,Payment Date,Transaction Number,Amount,Supplier Name,Expense Type,Service
Extra Trust,03/04/2024,T1,"1,200.00",Moorland Energy Supply Ltd,Energy,Estates
Extra Trust,04/04/2024,T2,640.50,Brand New Widgets Ltd,Supplies,Estates
Extra Trust,05/04/2024,T3,99.99,Northmoor Borough Council,Rent,Estates
"""


EXTRA = Publisher("extra-trust", "XX-LOCAL-extra-trust", "Extra Trust", "other")


def _load_extra(engine, registry, folder: Path, text: str = SMALL) -> int:
    """A new publisher's file loaded and its payees resolved, as `moneytrail load` does."""
    path = folder / "extra.csv"
    path.write_text(text, encoding="utf-8")
    upsert_publisher(engine, EXTRA)
    loaded = load_file(engine, EXTRA, "local:extra.csv", path).rows_loaded
    flows.update(engine, registry)
    return loaded


def _published(registry, data: Path) -> dict:
    engine = connect(f"sqlite:///{data / 'warehouse.db'}")
    published = published_by_publisher(engine, Archive(data / "raw"))
    engine.dispose()
    return published


def _tables(path: Path) -> dict[str, list]:
    """Every table's rows, sorted: what a reader can see, whatever the order of insertion."""
    with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as db:
        names = [r[0] for r in db.execute("select name from sqlite_master where type = 'table' "
                                          "and name not like 'payments_fts%' "
                                          "and name != 'sqlite_stat1'")]
        found = {}
        for name in names:
            columns = [r[1] for r in db.execute(f"pragma table_info({name})")
                       if not (name == "supplier_aliases" and r[1] == "id")]
            found[name] = sorted(db.execute(f"select {', '.join(columns)} from {name}"
                                            ).fetchall(), key=repr)
        found["search"] = sorted(db.execute(
            "select rowid from payments_fts where payments_fts match 'energy OR care OR ltd'"
        ).fetchall())
        return found


def _same_site(updated: Path, full: Path) -> None:
    for site in (updated, full):  # served immutable: nothing may lie in a log beside it
        assert not [p.name for p in site.iterdir() if p.name.endswith(("-wal", "-shm"))]
    names = sorted(p.name for p in updated.glob("*.db"))
    assert names == sorted(p.name for p in full.glob("*.db"))
    for name in names:
        assert _tables(updated / name) == _tables(full / name), name
    def counts(site: Path) -> dict:
        # Search-index segments and planner statistics depend on how the rows came in.
        return {name: {t: c for t, c in entry["tables"].items()
                       if not t.startswith(("payments_fts_", "sqlite_stat"))}
                for name, entry in json.loads((site / "inspect.json").read_text()).items()}

    assert counts(updated) == counts(full)
    assert json.loads((updated / "metadata.json").read_text()) == json.loads(
        (full / "metadata.json").read_text())


def _flow_tables(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {name: sorted(conn.execute(sa.text(f"select {columns} from {name}")).all(),
                             key=repr)
                for name, columns in (("suppliers", "*"), ("flows", "*"), (
                    "supplier_aliases", "publisher_id, spelling, company_number, "
                    "charity_number, supplier_id, payee_key, method, confidence, payments, "
                    "total_pence"))}


def test_the_demos_republish_updated_the_site_in_place_and_it_equals_a_full_build(demo,
                                                                                   copied):
    target, registry, engine = copied
    site_dir = target / "site"
    assert site_dir.is_symlink()
    full = build_site(engine, target / "full", _published(registry, target), full=True)
    assert full.mode == "full"
    _same_site(site_dir.resolve(), full.site_dir)


def test_a_new_publishers_load_rebuilds_its_database_and_who_it_pays(copied, tmp_path):
    target, registry, engine = copied
    before = _flow_tables(engine)
    path = tmp_path / "extra.csv"
    path.write_text(SMALL, encoding="utf-8")
    upsert_publisher(engine, EXTRA)
    assert load_file(engine, EXTRA, "local:extra.csv", path).rows_loaded == 3

    summary = flows.update(engine, registry)
    assert summary.mode == "incremental" and summary.redone == ["extra-trust"]
    assert summary.new_spellings == 1  # Brand New Widgets Ltd; the others were known
    after = _flow_tables(engine)
    assert [r for r in after["flows"] if r[0] != "extra-trust"] == before["flows"]

    rebuilt = target / "rebuilt.db"
    with closing(sqlite3.connect(target / "warehouse.db")) as source, \
            closing(sqlite3.connect(rebuilt)) as copy:
        source.backup(copy)  # with what its write-ahead log holds
    full_engine = connect(f"sqlite:///{rebuilt}")
    flows.rebuild(full_engine, registry)
    assert _flow_tables(full_engine) == after
    full_engine.dispose()

    published = _published(registry, target)
    site = build_site(engine, target / "site", published)
    assert site.mode == "incremental"
    # Its own database; the council it paid (its 'paid by'); and those whose supplier totals
    # it changed keep their databases: a publisher's database holds its own totals.
    assert set(site.rebuilt) == {"extra-trust", "northmoor-borough-council"}
    assert build_site(engine, target / "site", published).mode == "unchanged"
    _same_site((target / "site").resolve(),
               build_site(engine, target / "full", published, full=True).site_dir)


def test_a_generation_a_server_holds_is_never_written(copied, tmp_path):
    target, registry, engine = copied
    site_dir = target / "site"
    served = site_dir.resolve()
    stamp = {p.name: p.stat().st_mtime_ns for p in served.glob("*")}
    lock = generations.hold_for_serving(served)
    try:
        _load_extra(engine, registry, tmp_path)
        summary = build_site(engine, site_dir, _published(registry, target))
    finally:
        os.close(lock)
    assert summary.mode == "incremental" and site_dir.resolve() != served
    assert {p.name: p.stat().st_mtime_ns for p in served.glob("*")
            if p.name != generations.LOCK} == {k: v for k, v in stamp.items()
                                               if k != generations.LOCK}
    assert (site_dir / "extra-trust.db").exists() and not (served / "extra-trust.db").exists()
    # Released, the old generation stays as the spare; no more than two are kept.
    _load_extra(engine, registry, tmp_path, SMALL.replace("T3,99.99", "T3,199.99"))
    assert build_site(engine, site_dir, _published(registry, target)).mode == "incremental"
    assert len(generations.all_of(site_dir)) == 2 and served.exists()


def test_an_update_that_fails_leaves_the_site_as_it_was(copied, tmp_path, monkeypatch):
    target, registry, engine = copied
    site_dir = target / "site"
    served = site_dir.resolve()
    before = _tables(served / "moneytrail.db")
    state = generations.state(served)
    _load_extra(engine, registry, tmp_path)
    monkeypatch.setattr(warehouse_site, "_gathered_rows", lambda paths: {
        "publisher_summary": [("x",) * 99]})  # a row that cannot be inserted: rolls back
    with pytest.raises(sqlite3.Error):
        build_site(engine, site_dir, _published(registry, target))
    assert site_dir.resolve() == served and generations.state(served) == state
    assert _tables(served / "moneytrail.db") == before
    assert not list(served.glob("*.new"))
    monkeypatch.undo()
    assert build_site(engine, site_dir, _published(registry, target)).mode == "incremental"
    assert (site_dir / "extra-trust.db").exists()


def test_a_load_killed_while_it_updates_the_site_leaves_nothing_served_half_written(copied,
                                                                                     tmp_path):
    """SIGKILL while the combined database's transaction is open (its rollback journal is on
    disk): the generation has no state, so `serve` refuses it; the next load builds a whole
    new generation, equal to a full build."""
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO
    from warehouse.serving import hold_site

    target, registry, engine = copied
    path = tmp_path / "extra.csv"
    lines = [SMALL.splitlines()[0]] + [
        f"Extra Trust,03/04/2024,T{i},{100 + i % 900}.{i % 100:02d},Supplier {i % 5000} Ltd,"
        f"Supplies,Estates" for i in range(60_000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    served = (target / "site").resolve()
    journal = served / "moneytrail.db-journal"
    command = [sys.executable, "-m", "orchestration.cli", "load", str(path), "--publisher",
               "extra-trust", "--data-dir", str(target)]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not journal.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert child.poll() is None, "the load finished before its site update could be caught"
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert journal.exists() and generations.state(served) is None
    with pytest.raises(RuntimeError, match="was being updated"):
        hold_site(target / "site")

    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "site built whole" in rerun.stderr, rerun.stderr
    now = (target / "site").resolve()
    assert now != served and generations.state(now) is not None
    _same_site(now, build_site(engine, target / "full", _published(registry, target),
                               full=True).site_dir)


def test_a_supplier_renamed_by_another_load_rebuilds_no_other_database(copied, tmp_path):
    """A new publisher spelling a known supplier more often than everyone else renames it:
    the combined database shows the new name everywhere, each other publisher's database
    keeps its own spelling and is not rebuilt."""
    target, registry, engine = copied
    with closing(sqlite3.connect(f"file:{target / 'site' / 'moneytrail.db'}?immutable=1",
                                 uri=True)) as db:
        payers = {p for (p,) in db.execute("select publisher_id from spend_by_supplier where "
                                           "supplier = 'Moorland Energy Supply Ltd'")}
    assert payers
    lines = [SMALL.splitlines()[0]] + [
        f"Extra Trust,03/04/2024,T{i},10.00,MOORLAND ENERGY SUPPLY LTD,Energy,Estates"
        for i in range(400)]
    _load_extra(engine, registry, tmp_path, "\n".join(lines) + "\n")
    published = _published(registry, target)
    site = build_site(engine, target / "site", published)
    assert site.rebuilt == ["extra-trust"]
    with closing(sqlite3.connect(f"file:{target / 'site' / 'moneytrail.db'}?immutable=1",
                                 uri=True)) as db:
        named = dict(db.execute("select publisher_id, supplier from spend_by_supplier where "
                                "supplier_key = 'MT-moorland-energy-supply'"))
    assert named == {p: "MOORLAND ENERGY SUPPLY LTD" for p in payers | {"extra-trust"}}
    some = sorted(payers)[0]
    with closing(sqlite3.connect(f"file:{target / 'site' / f'{some}.db'}?immutable=1",
                                 uri=True)) as db:
        assert db.execute("select name from suppliers where id = 'MT-moorland-energy-supply'"
                          ).fetchone() == ("Moorland Energy Supply Ltd",)
    _same_site((target / "site").resolve(),
               build_site(engine, target / "full", published, full=True).site_dir)


def test_a_combined_database_begun_from_the_biggest_publishers_equals_one_built_whole(copied,
                                                                                     monkeypatch):
    target, registry, engine = copied
    published = _published(registry, target)
    whole = build_site(engine, target / "whole", published, full=True).site_dir
    monkeypatch.setattr(warehouse_site, "BIGGEST_SHARE", 0.0)
    begun = build_site(engine, target / "begun", published, full=True).site_dir
    _same_site(begun, whole)


def test_a_name_flagged_by_one_publishers_load_is_withheld_from_every_other(tmp_path):
    """Flagged on one publisher's new file, a name another publisher pays stops being that
    other publisher's supplier too: the update redoes it, and no site database holds the name;
    unflagged again, it comes back. Each step equals a full rebuild."""
    from sources.registry import Registry

    header = "Organisation Name,Payment Date,Supplier Name,Supplier Type,Amount,Expense Type\n"
    engine = connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
    council = Publisher("testshire", "GB-LAE-TST", "Testshire Council", "council")
    trust = Publisher("trust", "XX-LOCAL-trust", "Testshire Trust", "other")
    registry = Registry({p.id: p for p in (council, trust)})

    def load(publisher, name, rows):
        path = tmp_path / name
        path.write_text(header + rows, encoding="utf-8")
        upsert_publisher(engine, publisher)
        load_file(engine, publisher, f"local:{name}", path)
        return flows.update(engine, registry)

    def shown(site):
        found = set()
        for db_path in site.glob("*.db"):
            with closing(sqlite3.connect(db_path)) as db:
                found |= {n for (n,) in db.execute("select beneficiary_name from payments")}
                found |= {n for (n,) in db.execute("select spelling from supplier_aliases")}
        return found

    load(trust, "trust.csv", "Testshire Trust,03/04/2024,Colin Dewhurst,Company,300.00,Fees\n"
                             "Testshire Trust,04/04/2024,Acme Ltd,Company,700.00,Supplies\n")
    build_site(engine, tmp_path / "site")
    assert "Colin Dewhurst" in shown(tmp_path / "site")
    summary = load(council, "council.csv",
                   "Testshire Council,03/04/2024,Colin Dewhurst,,250.00,Fees\n")
    assert summary.mode == "incremental" and summary.redone == ["testshire", "trust"]
    site = build_site(engine, tmp_path / "site")
    assert "trust" in site.rebuilt and "Colin Dewhurst" not in shown(tmp_path / "site")
    _same_site((tmp_path / "site").resolve(),
               build_site(engine, tmp_path / "full", full=True).site_dir)

    summary = load(council, "council.csv",  # republished: the payee now a company
                   "Testshire Council,03/04/2024,Colin Dewhurst,Company,250.00,Fees\n")
    assert summary.redone == ["testshire", "trust"]
    build_site(engine, tmp_path / "site")
    assert "Colin Dewhurst" in shown(tmp_path / "site")
    _same_site((tmp_path / "site").resolve(),
               build_site(engine, tmp_path / "full2", full=True).site_dir)
    engine.dispose()


def test_summaries_worked_out_beside_the_indexes_equal_those_worked_out_after_them(copied,
                                                                                 tmp_path):
    """A database built alone works out its summaries in a second connection while the first
    builds its indexes (warehouse.site._derived_beside): the same tables as one after the other."""
    target, registry, engine = copied
    publisher_id = "northmoor-borough-council"
    cards = {publisher_id: warehouse_site.scorecard.scorecard(engine, publisher_id, {})}
    withheld = warehouse_site._withheld_spellings(engine)
    built = {}
    for overlap in (False, True):
        path = tmp_path / f"{overlap}.db"
        warehouse_site._build(engine, path, publisher_id, cards, withheld, overlap=overlap)
        built[overlap] = _tables(path)
        assert not list(tmp_path.glob("*-wal"))
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("pragma journal_mode").fetchone() == ("delete",)
    assert built[True]["spend_by_supplier"] and built[True] == built[False]
