"""A large file is read in a separate process: the same rows, the same report, the same errors."""

import multiprocessing
import os
import signal

import pandas as pd
import pytest
import sqlalchemy as sa

from benchmarks.messy import write_messy_csv
from sources.archive import Archive, FetchRecord
from sources.registry import Publisher
from warehouse import preparing
from warehouse.load import load_file, upsert_publisher
from warehouse.preparing import Batch, Preparation, PreparationFailed, Prepared, prepare, prepared
from warehouse.tables import files, metadata, payments, quarantine

PUB = Publisher(id="testshire", org_id="GB-LAE-TST", name="Testshire Council", kind="council")
ROWS = 3_000


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """A messy file of a few thousand rows: title line, £ amounts, bad rows, repeated header."""
    return write_messy_csv(tmp_path_factory.mktemp("messy") / "spend.csv", ROWS, seed=7)


def work(path, schema="spend", chunk_rows=500):
    return Preparation(path, schema, PUB, file_id=1, chunk_rows=chunk_rows)


def items(source) -> tuple[list[tuple[str, pd.DataFrame]], Prepared]:
    collected = list(source)
    *batches, end = collected
    assert all(isinstance(b, Batch) for b in batches) and isinstance(end, Prepared)
    return [(b.table, b.frame) for b in batches], end


def test_a_separate_process_prepares_exactly_what_this_one_does(messy):
    here, here_end = items(prepare(work(messy.path)))
    there, there_end = items(preparing._from_child(work(messy.path)))
    assert len(here) == len(there) >= 2 * 6  # six chunks or more, payments and quarantine
    for (table, frame), (other_table, other) in zip(here, there, strict=True):
        assert table == other_table
        pd.testing.assert_frame_equal(frame, other)
    assert here_end.report == there_end.report and here_end.unheld == there_end.unheld
    assert there_end.peak_mib > 0 and here_end.peak_mib is None


def test_batches_leave_out_empty_columns_and_those_the_loader_supplies(messy):
    """A batch carries only the columns some row fills (the warehouse fills the rest with
    NULL, and pickling them was most of what a preparing process sent), less the file's id,
    publisher and digest, which the loader writes into its statement once."""
    batches, _ = items(prepare(work(messy.path)))
    columns = {"payments": set(), "quarantine": set()}
    for table, frame in batches:
        assert all(frame[name].notna().any() for name in frame.columns), table
        # Numbered afresh, so that the labels pickle as a range, not a column of numbers.
        assert frame.index.equals(pd.RangeIndex(len(frame))), table
        assert isinstance(frame.index, pd.RangeIndex), table
        columns[table] |= set(frame.columns)
    assert {"amount_pence", "beneficiary_name", "source_row"} <= columns["payments"]
    assert "gross_amount_pence" not in columns["payments"]  # the messy file has no such column
    for table, shared in preparing.FILE_COLUMNS.items():
        assert not columns[table] & set(shared), table


def test_the_values_a_file_shares_are_sql_literals_and_nothing_else():
    from warehouse.load import _sql_literal

    assert _sql_literal(12) == "12"
    assert _sql_literal("o'neill-trust") == "'o''neill-trust'"
    for bad in (None, 1.5, True, "a\0b", b"x"):
        with pytest.raises((TypeError, ValueError)):
            _sql_literal(bad)


@pytest.mark.parametrize("threshold", [0, 1 << 40], ids=["separate process", "this process"])
def test_a_load_is_the_same_whichever_process_reads_the_file(
        engine, messy, monkeypatch, threshold):
    monkeypatch.setattr(preparing, "PARALLEL_MIN_BYTES", threshold)
    upsert_publisher(engine, PUB)
    outcome = load_file(engine, PUB, "http://x/spend.csv", messy.path)
    assert (outcome.preparer_peak_mib is not None) == (threshold == 0)
    with engine.connect() as conn:
        loaded, pence = conn.execute(sa.select(sa.func.count(),
                                               sa.func.sum(payments.c.amount_pence))).one()
        held = conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar()
        total = conn.execute(sa.select(files.c.amount_total_pence)).scalar()
    assert messy.reconciles(loaded, held, int(pence)) == []
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (messy.loaded, messy.quarantined)
    assert total == messy.total_pence


def test_both_ways_leave_the_same_warehouse(tmp_path, messy, monkeypatch):
    from warehouse.engine import connect

    snapshots = []
    for threshold in (0, 1 << 40):
        monkeypatch.setattr(preparing, "PARALLEL_MIN_BYTES", threshold)
        engine = connect(f"sqlite:///{tmp_path / f'{threshold}.db'}")
        upsert_publisher(engine, PUB)
        load_file(engine, PUB, "http://x/spend.csv", messy.path, fetched_at="2026-11-25")
        with engine.connect() as conn:
            snapshots.append({
                t.name: conn.execute(sa.select(t).order_by(*t.primary_key)).all()
                for t in metadata.sorted_tables if t.name in ("payments", "quarantine")})
        engine.dispose()
    assert snapshots[0] == snapshots[1] and len(snapshots[0]["payments"]) == messy.loaded


def test_an_error_while_preparing_reaches_the_loader_as_itself(messy):
    with pytest.raises(ValueError) as here:
        list(prepare(work(messy.path, schema="no-such-schema")))
    with pytest.raises(ValueError) as there:
        list(preparing._from_child(work(messy.path, schema="no-such-schema")))
    assert str(there.value) == str(here.value)
    assert there.value.__notes__ == ["raised while reading spend.csv in a separate process"]


def test_a_process_that_cannot_be_started_leaves_the_reading_to_this_one(messy, monkeypatch):
    def refuse(self):
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(preparing._context().Process, "start", refuse)
    here, here_end = items(prepare(work(messy.path)))
    there, there_end = items(preparing._from_child(work(messy.path)))
    assert len(here) == len(there) and here_end.report == there_end.report


def test_a_preparing_process_that_dies_is_named_not_waited_for(messy):
    source = preparing._from_child(work(messy.path))
    next(source)  # the process is running and has sent its first batch
    (child,) = [p for p in multiprocessing.active_children()
                if p.name == f"moneytrail-prepare {messy.path.name}"]
    os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(PreparationFailed, match=rf"{messy.path.name}: the process reading it "
                                                r"ended before it finished \(exit code -9\)"):
        list(source)


def test_a_load_that_stops_early_stops_its_preparing_process(messy):
    source = preparing._from_child(work(messy.path))
    next(source)
    (child,) = [p for p in multiprocessing.active_children()
                if p.name == f"moneytrail-prepare {messy.path.name}"]
    source.close()
    assert not child.is_alive()


def test_small_files_and_the_switch_keep_to_this_process(tmp_path, messy, monkeypatch):
    assert not preparing._in_separate_process(messy.path)  # a few thousand rows
    monkeypatch.setattr(preparing, "PARALLEL_MIN_BYTES", 0)
    assert preparing._in_separate_process(messy.path)
    assert not preparing._in_separate_process(tmp_path / "missing.csv")
    monkeypatch.setenv(preparing.PARALLEL_ENV, "0")
    assert not preparing._in_separate_process(messy.path)
    monkeypatch.delenv(preparing.PARALLEL_ENV)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert not preparing._in_separate_process(messy.path)
    assert list(prepared(work(messy.path)))[-1].peak_mib is None


def test_collection_is_per_chunk_during_a_load_and_automatic_again_after(messy):
    import gc

    assert gc.isenabled()
    with preparing.collected_per_chunk():
        assert not gc.isenabled()
        kept = [[] for _ in range(5 * gc.get_threshold()[0])]
        assert gc.get_count()[0] > gc.get_threshold()[0]  # young objects pile up, uncollected,
        preparing.collect_chunk()  # until the chunk is done
        assert gc.get_count()[0] < gc.get_threshold()[0] and len(kept) > 0
    assert gc.isenabled()
    with pytest.raises(RuntimeError), preparing.collected_per_chunk():
        raise RuntimeError("a load that fails still restores automatic collection")
    assert gc.isenabled()


def test_the_command_line_loads_a_large_file_through_a_second_process(tmp_path):
    """`moneytrail load` of a file over the size at which a second process reads it: the
    forkserver's child starts from the console script as it does from any program."""
    import subprocess
    import sys
    from pathlib import Path

    made = write_messy_csv(tmp_path / "big.csv", 20_000, seed=3)
    assert made.path.stat().st_size >= preparing.PARALLEL_MIN_BYTES
    command = Path(sys.executable).with_name("moneytrail")
    data = tmp_path / "data"
    result = subprocess.run(
        [str(command), "load", str(made.path), "--publisher", "big-trust", "--data-dir",
         str(data)], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"big.csv: loaded, {made.loaded} rows loaded, {made.quarantined} quarantined"
            in result.stdout), result.stdout


def test_a_preparing_process_does_not_run_the_program_that_started_it(tmp_path):
    """The process reading a large file does not import the running program's __main__: a
    script with no `if __name__ == "__main__":` guard loads a file, and its top level runs
    once. (multiprocessing would otherwise run the script again in the reading process,
    which would try to start a load of its own while starting up, and fail.)"""
    import subprocess
    import sys
    from pathlib import Path

    made = write_messy_csv(tmp_path / "big.csv", 20_000, seed=5)
    assert made.path.stat().st_size >= preparing.PARALLEL_MIN_BYTES
    script = tmp_path / "load_it.py"
    script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from sources.registry import Publisher\n"
        "from warehouse.engine import connect\n"
        "from warehouse.load import load_file, upsert_publisher\n"
        "print('top level ran', flush=True)\n"
        "engine = connect(f'sqlite:///{sys.argv[2]}')\n"
        "publisher = Publisher('big-trust', 'GB-X-BIG', 'Big Trust', 'council')\n"
        "upsert_publisher(engine, publisher)\n"
        "outcome = load_file(engine, publisher, 'http://x/big.csv', Path(sys.argv[1]))\n"
        "print(outcome.status, outcome.rows_loaded, outcome.preparer_peak_mib is not None)\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script), str(made.path), str(tmp_path / "w.db")],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["top level ran", f"loaded {made.loaded} True"]


def test_a_load_reads_the_file_once_to_hash_it(engine, messy, monkeypatch):
    """load_file hashes the file to know whether it is new; reading it does not hash it again,
    and the digest it passes on is the one every payment row records."""
    import sources.read as reading

    hashed = []
    real = reading.file_sha256
    monkeypatch.setattr(reading, "file_sha256", lambda path: hashed.append(path) or real(path))
    monkeypatch.setattr("warehouse.load.file_sha256", reading.file_sha256)
    upsert_publisher(engine, PUB)
    load_file(engine, PUB, "http://x/spend.csv", messy.path)
    assert hashed == [messy.path]
    with engine.connect() as conn:
        recorded = conn.execute(sa.select(payments.c.file_sha256).distinct()).scalars().all()
    assert recorded == [real(messy.path)]


def test_the_server_that_forks_preparing_processes_has_loaded_what_they_need(messy):
    """After the warm-up the forkserver runs, preparing a real file imports nothing new: each
    preparing process starts with pandera's backends, the crosswalk and the schemas loaded."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "import warehouse.preparing_warm\n"
        "from warehouse.preparing import prepare\n"
        "from tests.warehouse.test_preparing import work\n"
        "from pathlib import Path\n"
        "before = set(sys.modules)\n"
        f"found = list(prepare(work(Path({str(messy.path)!r}))))\n"
        "assert len(found) > 2, found\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert preparing._context().get_start_method() == "forkserver"


def test_the_outbox_keeps_order_and_stops_when_the_loader_stops_reading():
    receiving, sending = multiprocessing.Pipe(duplex=False)
    outbox = preparing._Outbox(sending)
    assert all(outbox.put(f"batch {i}".encode()) for i in range(3))
    assert [receiving.recv_bytes() for _ in range(3)] == [b"batch 0", b"batch 1", b"batch 2"]
    receiving.close()  # the loading process is gone: writes now fail
    big = b"x" * (1 << 20)  # more than the pipe holds, so the write is attempted and fails
    results = [outbox.put(big) for _ in range(preparing.OUTBOX_BATCHES + 4)]
    assert results[-1] is False  # the preparing loop is told to stop...
    outbox.close()  # ...and closing never waits on a queue nobody empties
    sending.close()


def test_a_required_column_no_row_fills_is_named_whether_or_not_the_batch_holds_it():
    from warehouse.preparing import FILE_COLUMNS, unheld_required

    supplied = FILE_COLUMNS["payments"]
    full = pd.DataFrame({"source_row": [2, 3], "payment_date": ["2024-01-02"] * 2,
                         "date_precision": ["day"] * 2, "amount_pence": [1, 2],
                         "beneficiary_name": pd.array([None, None], dtype="string")})
    assert unheld_required(full, leave_out=supplied) == "BeneficiaryName"
    held = full.drop(columns=["beneficiary_name"])  # as payment_batch leaves it out
    assert unheld_required(held, leave_out=supplied) == "BeneficiaryName"
    assert unheld_required(held.iloc[:0], leave_out=supplied) is None  # no rows: nothing to say
    assert unheld_required(held.assign(beneficiary_name=["A", None]), leave_out=supplied) is None
    # A column the loader supplies is not looked for unless the caller says it is held.
    assert unheld_required(held.assign(beneficiary_name=["A", None])) == "publisher_id"


def _frames(batches, table):
    return pd.concat([frame for name, frame in batches if name == table], ignore_index=True)


def test_a_large_csv_is_prepared_in_two_parts_to_what_one_process_gives(messy, monkeypatch):
    """The loading process prepares the first three quarters of a chunk itself while a
    second process reads past them and prepares the rest: the batches, in file order, and
    the merged report are those of one process reading it all."""
    monkeypatch.setattr(preparing, "PARALLEL_MIN_BYTES", 0)
    assert preparing._splittable(messy.path)
    here, here_end = items(prepare(work(messy.path)))
    split, split_end = items(prepared(work(messy.path)))
    first = round(500 * preparing.FIRST_PART_SHARE)
    assert len(split[0][1]) <= first < ROWS  # the first batch is this process's part
    for table in ("payments", "quarantine"):
        pd.testing.assert_frame_equal(_frames(split, table), _frames(here, table))
    assert split_end.report == here_end.report and split_end.unheld is None
    assert split_end.peak_mib > 0 and split_end.cpu_s > 0  # the second process did the rest
    assert not multiprocessing.active_children()


def test_a_csv_refused_on_its_first_part_stops_the_second_process(tmp_path, monkeypatch):
    """No column holds the payee (a card file): the first part refuses the file, and the
    process reading the rest is stopped, not waited for."""
    monkeypatch.setattr(preparing, "PARALLEL_MIN_BYTES", 0)
    path = tmp_path / "cards.csv"
    path.write_text("Payment Date,Amount\n" + "01/02/2024,1.00\n" * 5_000, encoding="utf-8")
    *batches, end = prepared(work(path))
    assert batches == [] and end.unheld == "BeneficiaryName"
    assert not multiprocessing.active_children()


def test_a_workbook_is_prepared_in_one_part(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Supplier Name", "Payment Date", "Amount"])
    path = tmp_path / "spend.xlsx"
    book.save(path)
    assert not preparing._splittable(path) and not preparing._splittable(tmp_path / "no.csv")


HEADER = "Body,Payment Date,Supplier,Expense Type,Directorate,Amount"
MOVED = "Body,Payment Date,Supplier,Expense Type,Amount,Directorate"


def _line(i: int, moved: bool) -> str:
    amount, unit = f"{i % 9000}.{i % 100:02d}", "Highways"
    last = f"{amount},{unit}" if moved else f"{unit},{amount}"
    return f"Testshire,{1 + i % 28:02d}/04/2024,SUPPLIER {i % 97} LTD,Materials,{last}\n"


@pytest.mark.parametrize("layout", ["header last", "header changed in the first part",
                                    "header changed in the second part"])
def test_a_large_csv_laid_out_oddly_is_prepared_as_one_process_reads_it(tmp_path, monkeypatch,
                                                                        layout):
    """A header at the end is found only by reading from the top, so one process reads the
    file; a header part-way down that moves the columns is followed by whichever process
    reaches it, and the second process, reading past the first's rows, follows one there."""
    monkeypatch.setattr(preparing, "PARALLEL_MIN_BYTES", 0)
    path, rows = tmp_path / "spend.csv", 2_000
    at = {"header changed in the first part": 100,
          "header changed in the second part": 1_500}.get(layout)
    with path.open("w", encoding="utf-8") as out:
        if layout != "header last":
            out.write(HEADER + "\n")
        for i in range(rows):
            if i == at:
                out.write(MOVED + "\n")
            out.write(_line(i, at is not None and i >= at))
        if layout == "header last":
            out.write(HEADER + "\n")
    assert preparing._splittable(path) == (layout != "header last")
    here, here_end = items(prepare(work(path)))
    split, split_end = items(prepared(work(path)))
    for table in ("payments", "quarantine"):
        pd.testing.assert_frame_equal(_frames(split, table), _frames(here, table))
    paid = _frames(here, "payments")
    assert len(paid) == rows and here_end.report["rows_quarantined"] == 0
    assert paid["amount_pence"].sum() == sum((i % 9000) * 100 + i % 100 for i in range(rows))
    assert split_end.report == here_end.report
    assert not multiprocessing.active_children()


def _archived_year(tmp_path, messy) -> Archive:
    """Four small monthly files of one publisher, archived as a harvest leaves them."""
    archive = Archive(tmp_path / "raw")
    lines = messy.path.read_bytes().splitlines(keepends=True)
    head, body = lines[:3], lines[3:-1]  # title, blank, header; the payments; the total
    for month in range(4):
        part = tmp_path / f"month-{month}.csv"
        part.write_bytes(b"".join(head + body[month * 600:(month + 1) * 600]))
        sha256 = archive.store(part)
        archive.record(FetchRecord(PUB.id, f"https://example.org/{month}.csv",
                                   "2025-01-01T00:00:00+00:00", "new", 200, sha256))
    return archive


def _loaded(tmp_path, archive, name):
    from warehouse.ingest import load_archived

    engine = sa.create_engine(f"sqlite:///{tmp_path / name}")
    metadata.create_all(engine)
    upsert_publisher(engine, PUB)
    outcomes = load_archived(engine, PUB, archive)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(payments.c.payment_key, payments.c.amount_pence,
                                      payments.c.beneficiary_name, payments.c.source_row)
                            .order_by(payments.c.payment_key)).all()
        held = conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar()
    engine.dispose()
    return outcomes, rows, held


def test_the_next_small_file_is_prepared_ahead_and_loads_exactly_as_it_would_here(
        tmp_path, messy, monkeypatch):
    """load_archived reads a publisher's next file in a separate process while this one
    loads the current one (preparing.prepare_ahead): every file after the first comes from
    one, with the rows, keys and quarantine of a load that prepares everything here."""
    archive = _archived_year(tmp_path, messy)
    ahead, rows, held = _loaded(tmp_path, archive, "ahead.db")
    assert [o.status for o in ahead] == ["loaded"] * 4
    # Only a separate process reports its CPU time: the first file was read here, the rest
    # ahead of their turn.
    assert [o.preparer_cpu_s is not None for o in ahead] == [False, True, True, True]
    assert not preparing._AHEAD and not [
        p for p in multiprocessing.active_children() if p.name.startswith("moneytrail-prepare")]

    monkeypatch.setenv(preparing.PARALLEL_ENV, "0")
    here, rows_here, held_here = _loaded(tmp_path, archive, "here.db")
    assert [o.preparer_cpu_s for o in here] == [None] * 4
    assert rows == rows_here and len(rows) > 2000 and held == held_here
    assert [(o.rows_loaded, o.rows_quarantined, o.amount_total_pence) for o in ahead] == [
        (o.rows_loaded, o.rows_quarantined, o.amount_total_pence) for o in here]


def test_a_file_prepared_ahead_that_is_never_loaded_is_stopped(messy):
    assert preparing.prepare_ahead(work(messy.path))
    assert not preparing.prepare_ahead(work(messy.path))  # begun already
    [(_, child)] = preparing._AHEAD
    preparing.drop_ahead()
    assert not preparing._AHEAD and not child._process.is_alive()
