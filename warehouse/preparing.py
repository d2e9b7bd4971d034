"""Read, validate and convert a file for loading: all of a load but the database's own work.

A large file is prepared in a separate process while the loading process inserts the rows it
has already been sent, so the two halves of a load run on two cores at once; a large CSV's
first rows are prepared by the loading process itself meanwhile, so that it is not idle while
the other reads its first chunk. The database work stays in the loading process, inside its one
transaction; the other process only reads the file and sends each chunk's typed rows, then the
file's report. Turning them into the driver's tuples and inserting them is left to the loading
process, which would otherwise wait on the other most of the time.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import gc
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import multiprocessing.spawn
import os
import queue
import signal
import tempfile
import threading
import traceback
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import pandas as pd

from schemas.descriptors import load_descriptor
from schemas.report import FileReport
from schemas.validate import check_file
from sources.quirks import Quirks
from sources.read import CHUNK_ROWS, reads_in_parts
from sources.registry import Publisher

# Files at least this big (about 13,000 rows of CSV, half a second's work) are prepared in a
# separate process: starting one costs a few hundredths of a second once its server is up.
PARALLEL_MIN_BYTES = 2 << 20
# Set to "0" to prepare every file in the loading process.
PARALLEL_ENV = "MONEYTRAIL_LOAD_PROCESSES"
# A CSV prepared in a separate process has its first records (after the header), this share of
# a chunk, prepared by the loading process itself while the other process reads past them and
# prepares the rest: the loading process would otherwise wait, idle, for the other's first
# chunk. Three quarters of a chunk balanced the two best (docs/performance.md).
FIRST_PART_SHARE = 0.75
# The server that forks preparing processes imports this module and prepares this tiny file
# once (warm_up), so that no child pays for what a first preparation loads lazily. It is written
# in Windows-1252, as most English councils' files are, so that codec is loaded too.
WARM_UP_CSV = (
    "Spend over \u00a3500\r\n"
    "Body Name,Supplier Name,Payment Date,Amount,Expense Area,Expense Type\r\n"
    "Warmshire,Warm Up Ltd,01/04/2024,\"1,000.00\",Highways,Repairs\r\n"
    "Warmshire,REDACTED,02/04/2024,(12.50),Adult Care,Care\r\n"
    "Warmshire,#REF!,3rd April 2024,not money,Highways,\r\n"
)


@dataclass(frozen=True)
class Preparation:
    """What to prepare: one file version."""

    path: Path
    schema: str
    publisher: Publisher
    file_id: int
    chunk_rows: int = CHUNK_ROWS
    sha256: str | None = None  # the file's, when the loader has hashed it already
    # Part of a CSV's records to prepare, (start, stop) as sources.read.read_file takes them;
    # None: the whole file.
    records: tuple[int, int | None] | None = None


# Columns that hold the same value in every row of a file, which the loading process supplies
# (it knows the file and its publisher): no batch carries them, so they are neither pickled
# nor turned into a value per row (docs/performance.md).
FILE_COLUMNS = {"payments": ("file_id", "publisher_id", "file_sha256"),
                "quarantine": ("file_id", "publisher_id")}


@dataclass
class Batch:
    """A chunk's rows for one table ("payments" or "quarantine"), as typed columns: those some
    row fills, less the FILE_COLUMNS."""

    table: str
    frame: pd.DataFrame


@dataclass
class Prepared:
    """The end of a file: its validation report, and the required field no column holds."""

    report: dict
    unheld: str | None
    peak_mib: float | None = None
    cpu_s: float | None = None  # CPU seconds the separate process spent, when one did


@dataclass
class _Done:
    """The end of a file or of a part of one: its report, still mergeable
    (FileReport.merge), and the required field no column holds."""

    report: FileReport
    unheld: str | None
    peak_mib: float | None = None
    cpu_s: float | None = None

    def as_prepared(self) -> Prepared:
        return Prepared(self.report.to_json(), self.unheld, self.peak_mib, self.cpu_s)


@dataclass
class _Failure:
    """An exception raised while preparing, sent back to the loading process."""

    exception: BaseException | None
    text: str


class PreparationFailed(RuntimeError):
    """The process preparing a file ended without finishing it."""


def prepared(work: Preparation) -> Iterator[Batch | Prepared]:
    """The file's batches, in file order, then its Prepared record.

    A small file is prepared in this process, a large one in a separate process. A large CSV
    is prepared in two parts at once: its first records (FIRST_PART_SHARE of a chunk) here,
    the rest in the separate process, whose batches follow this process's and whose report
    is merged into this one's: the same batches and report as one process would give.
    """
    ahead = _started_ahead(work)
    if ahead is not None:
        yield from _from_child(work, ahead)
        return
    if not _in_separate_process(work.path):
        yield from prepare(work)
        return
    if not _splittable(work.path, work.publisher.quirks):
        yield from _from_child(work)
        return
    first = max(1, round(work.chunk_rows * FIRST_PART_SHARE))
    with contextlib.closing(_Child(dataclasses.replace(work, records=(first, None)))) as rest:
        for item in _prepare(dataclasses.replace(work, records=(0, first))):
            if isinstance(item, Batch):
                yield item
        done = item
        if done.unheld or done.report.failure:
            yield done.as_prepared()  # refused or unreadable already: the rest is not wanted
            return
        for item in rest.items():
            if isinstance(item, Batch):
                yield item
        done.report.merge(item.report)
        done.unheld, done.peak_mib, done.cpu_s = item.unheld, item.peak_mib, item.cpu_s
        yield done.as_prepared()


def _splittable(path: Path, quirks: Quirks | None = None) -> bool:
    """A CSV with its header at the top: one table, whose records both processes count alike
    (a workbook, or a CSV whose header is further down, at its end or missing, is not)."""
    try:
        return reads_in_parts(path, quirks)
    except OSError:
        return False


def _may_fork() -> bool:
    """Whether this process may prepare files in separate processes at all."""
    if os.environ.get(PARALLEL_ENV, "").strip() == "0":
        return False
    if multiprocessing.current_process().daemon:
        return False  # a daemonic process may not start children
    return "forkserver" in multiprocessing.get_all_start_methods()  # Windows has none


def _in_separate_process(path: Path) -> bool:
    if not _may_fork():
        return False
    try:
        return path.stat().st_size >= PARALLEL_MIN_BYTES
    except OSError:
        return False  # reading it will fail, and the report will say why


def prepare(work: Preparation) -> Iterator[Batch | Prepared]:
    """Read, validate and convert a file in this process: each chunk's payment and
    quarantine rows, typed as the warehouse stores them, then the file's report."""
    for item in _prepare(work):
        yield item.as_prepared() if isinstance(item, _Done) else item


def _prepare(work: Preparation) -> Iterator[Batch | _Done]:
    publisher = work.publisher
    report, chunks = check_file(work.path, work.schema, publisher.id, publisher.quirks,
                                work.chunk_rows, work.sha256, work.records)
    unheld = None
    for chunk in chunks:
        if chunk.table.kind != "transactions":
            continue  # supplier totals are reported, never loaded as payments
        valid = chunk.payment_batch(publisher.id, report.record.sha256,
                                    leave_out=FILE_COLUMNS["payments"])
        unheld = unheld_required(valid, leave_out=FILE_COLUMNS["payments"])
        if unheld:
            chunks.close()  # no column maps to a field every payment needs: refused whole
            break
        bad = chunk.quarantine()
        del chunk
        collect_chunk()
        # A batch's row labels are its rows' places in the chunk, which no loader reads:
        # numbered afresh, they pickle as a range, not a column (half a batch's pickling).
        yield Batch("payments", valid.reset_index(drop=True))
        yield Batch("quarantine", _held(bad).reset_index(drop=True))
    yield _Done(report, unheld)


# The name every preparing process is given, followed by its file's name.
PROCESS_NAME = "moneytrail-prepare"


def _without_main(preparation_data):
    """multiprocessing's spawn.get_preparation_data, less the running program's __main__ for
    a preparing process.

    Every process that multiprocessing starts from a forkserver first imports the parent's
    __main__ module (the moneytrail command, Dagster's entry point, a script), so that what
    was pickled from it can be found. A preparing process is sent only moneytrail's own
    objects, which it imports by name, and importing the command line again cost it about a
    quarter of a second before it read a row (docs/performance.md). Without it, a script
    that loads files no longer needs an `if __name__ == "__main__":` guard either. Other
    processes are left as multiprocessing makes them.
    """
    def get_preparation_data(name):
        data = preparation_data(name)
        if str(name).startswith(PROCESS_NAME + " "):
            data.pop("init_main_from_name", None)
            data.pop("init_main_from_path", None)
        return data

    get_preparation_data.moneytrail = True
    return get_preparation_data


if not getattr(multiprocessing.spawn.get_preparation_data, "moneytrail", False):
    multiprocessing.spawn.get_preparation_data = _without_main(
        multiprocessing.spawn.get_preparation_data)


def _held(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without the columns empty in every row, which the warehouse would fill with
    NULL anyway: most of a payment's 40 columns, and, being full-size typed arrays, most of
    the bytes a preparing process pickles (54 ms of pickling a 50,000-row batch; 15 without).
    """
    empty = [name for name in frame.columns if not frame[name].notna().any()]
    return frame.drop(columns=empty) if empty else frame


@lru_cache(maxsize=1)
def _context() -> multiprocessing.context.BaseContext:
    """Children forked from a clean server process, which has moneytrail imported: neither
    a copy of this process's threads and locks (fork) nor a fresh interpreter each (spawn)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "warehouse.preparing_warm"])
    atexit.register(stop_processes)
    return context


def _start_server() -> None:
    """Start the server that forks preparing processes, unless it runs, with Ctrl-C blocked.

    It and every process it forks inherit the block, so a Ctrl-C reaches only the loading
    process, which stops its preparing processes as it unwinds (_Child.close): not each of
    them too, printing its own KeyboardInterrupt traceback, nor the server while it warms
    up (it ignores Ctrl-C only once it serves). multiprocessing starts its resource tracker
    the same way, and unblocks Ctrl-C after, so the tracker is started first.
    """
    multiprocessing.resource_tracker.ensure_running()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def stop_processes() -> None:
    """End the processes preparing files have started, and wait for them: the preparing
    processes still running, the server that forks them and multiprocessing's resource
    tracker, so that none outlives the command that loaded the files. Both servers start
    again when another large file is prepared.

    Run at exit, and by the command line at the end of each command. Both servers are left
    running while this program has other child processes, which use them too.
    """
    for process in multiprocessing.active_children():
        if process.name.startswith(PROCESS_NAME + " "):
            process.terminate()
            process.join()
    # multiprocessing has no public way to stop either server: its private _stop() closes the
    # pipe whose end tells the server to exit, then waits for it (as CPython's tests do).
    server = multiprocessing.forkserver._forkserver
    if server._forkserver_pid is None or multiprocessing.active_children():
        return
    # Told by the pipe, the server would finish warming up first and then tear down an
    # interpreter with pandas loaded: 0.4 to 1.7 s. It holds nothing that needs a tidy end.
    with contextlib.suppress(ProcessLookupError):
        os.kill(server._forkserver_pid, signal.SIGTERM)
    server._stop()
    multiprocessing.resource_tracker._resource_tracker._stop()


def warm_up() -> None:
    """Prepare a tiny built-in file, so that what a first preparation loads lazily (pandera's
    check backends, the header crosswalk, the schemas, the privacy rules) is loaded in the
    forkserver, once, and inherited by every preparing process it forks. Run by importing
    warehouse.preparing_warm.
    """
    with tempfile.TemporaryDirectory(prefix="moneytrail-warm-") as folder:
        path = Path(folder) / "warm-up.csv"
        path.write_text(WARM_UP_CSV, encoding="cp1252")
        publisher = Publisher("warm-up", "XX-WARM-UP", "Warmshire", "council")
        for _ in prepare(Preparation(path, "spend", publisher, 0)):
            pass


def _from_child(work: Preparation, started: _Child | None = None
                ) -> Iterator[Batch | Prepared]:
    """The file's batches and Prepared record, from a separate process (STARTED already)."""
    with contextlib.closing(started or _Child(work)) as child:
        for item in child.items():
            yield item.as_prepared() if isinstance(item, _Done) else item


# Small files whose preparation began in a separate process before their turn (prepare_ahead),
# with what they are: at most AHEAD_FILES at once, the one about to be loaded and the next.
_AHEAD: list[tuple[Preparation, _Child]] = []
AHEAD_FILES = 2


def prepare_ahead(work: Preparation) -> bool:
    """Begin preparing WORK, a file too small to be split across processes, in a separate
    process now, for the prepared(work) that will come when its turn does: a publisher's year
    is a dozen such files, and each is then read on the other core while this process inserts
    the one before, instead of after it. Returns whether it began; a preparation begun and
    never asked for ends with drop_ahead() or the command (stop_processes)."""
    key = _ahead_key(work)
    if any(begun == key for begun, _ in _AHEAD) or len(_AHEAD) >= AHEAD_FILES \
            or not _may_fork() or _in_separate_process(work.path) or not work.path.is_file():
        return False
    _AHEAD.append((key, _Child(key)))
    return True


def drop_ahead() -> None:
    """Stop every preparation begun ahead that nobody asked for."""
    while _AHEAD:
        _AHEAD.pop()[1].close()


def _started_ahead(work: Preparation) -> _Child | None:
    key = _ahead_key(work)
    for at, (begun, child) in enumerate(_AHEAD):
        if begun == key:
            del _AHEAD[at]
            return child
    return None


def _ahead_key(work: Preparation) -> Preparation:
    # The file's id is the loader's (its batches never carry it): one begun before the loader
    # numbered the file is the same preparation.
    return dataclasses.replace(work, file_id=0)


class _Child:
    """A separate process preparing a file (or part of one), started at once, so that this
    process can go on with other work while it reads."""

    def __init__(self, work: Preparation) -> None:
        self.work = work
        context = _context()
        self._receiving, sending = context.Pipe(duplex=False)
        self._process = context.Process(target=_child, args=(work, sending), daemon=True,
                                        name=f"{PROCESS_NAME} {work.path.name}")
        try:
            _start_server()
            self._process.start()
        except OSError:  # no process to be had (a limit on processes, no memory): read it here
            self._receiving.close()
            self._process = None
        sending.close()

    def items(self) -> Iterator[Batch | _Done]:
        if self._process is None:
            yield from _prepare(self.work)
            return
        name = self.work.path.name
        while True:
            try:
                item = self._receiving.recv()
            except EOFError:
                self._process.join()
                raise PreparationFailed(
                    f"{name}: the process reading it ended before it finished "
                    f"(exit code {self._process.exitcode})") from None
            if isinstance(item, _Failure):
                if item.exception is not None:
                    item.exception.add_note(f"raised while reading {name} in a separate process")
                    raise item.exception
                raise PreparationFailed(f"{name}: {item.text}")
            yield item
            if isinstance(item, _Done):
                return

    def close(self) -> None:
        if self._process is None:
            return
        self._receiving.close()
        if self._process.is_alive():
            self._process.terminate()  # the load stopped early: the rest is not wanted
        self._process.join()


def _child(work: Preparation, sending) -> None:
    """The preparing process: pickle each batch as soon as it is ready and hand it to a thread
    that writes it to the pipe, so that preparing goes on while the loading process is busy
    inserting. Up to OUTBOX_BATCHES batches wait; beyond that the pipe holds this process back.
    """
    outbox = _Outbox(sending)
    try:
        with collected_per_chunk():
            for item in _prepare(work):
                if isinstance(item, _Done):
                    item.peak_mib = _peak_mib()
                    item.cpu_s = cpu_seconds()
                if not outbox.put(ForkingPickler.dumps(item)):
                    break  # the loading process stopped or was killed: nothing is waiting
    except BaseException as failure:  # noqa: BLE001 - every failure goes back to the loader
        outbox.put(_pickled_failure(failure))
    finally:
        outbox.close()
        sending.close()


# Pickled batches a preparing process may hold while the pipe is full: enough to ride out a
# slow insert (a 50,000-row batch of the benchmark file is about 12 MB), few enough to bound
# memory.
OUTBOX_BATCHES = 2


class _Outbox:
    """A bounded queue of pickled messages and the thread that writes them to the pipe.

    Writing to a pipe releases the GIL, so the thread waits on the loading process while the
    preparing process's main thread goes on preparing.
    """

    def __init__(self, sending) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=OUTBOX_BATCHES)
        self._broken = threading.Event()
        self._thread = threading.Thread(target=self._write, args=(sending,), daemon=True,
                                        name="moneytrail-prepare-outbox")
        self._thread.start()

    def put(self, message: bytes) -> bool:
        """Queue a message; False once the loading process has stopped reading."""
        if self._broken.is_set():
            return False
        self._queue.put(message)
        return not self._broken.is_set()

    def close(self) -> None:
        """Wait until every queued message is written (or the pipe found broken)."""
        self._queue.put(None)
        self._thread.join()

    def _write(self, sending) -> None:
        while (message := self._queue.get()) is not None:
            if self._broken.is_set():
                continue  # drain, so that put() never waits on a queue nobody empties
            try:
                sending.send_bytes(message)
            except (BrokenPipeError, OSError):
                self._broken.set()


def _pickled_failure(failure: BaseException) -> bytes:
    text = "".join(traceback.format_exception_only(failure)).strip()
    try:
        return ForkingPickler.dumps(_Failure(failure, text))
    except Exception:  # noqa: BLE001 - an exception that cannot be pickled: send its text
        return ForkingPickler.dumps(_Failure(None, text))


def cpu_seconds() -> float:
    """This process's CPU time so far, user and system, all threads (Unix only, as is a
    preparing process: it runs where there is a forkserver, which is where resource is)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _peak_mib() -> float | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


@contextlib.contextmanager
def collected_per_chunk() -> Iterator[None]:
    """Collect garbage once per chunk while a file loads, not whenever allocations pile up.

    A load allocates millions of short-lived rows and cells. Run automatically, the collector
    walks the rows of the chunk in hand again and again: a fifth of the time a load took, even
    with its older generations collected less often. Inside this block automatic collection is
    off, and collect_chunk(), called after each chunk, collects the young generations, so
    garbage held in reference cycles lives no longer than a chunk or two.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collect_chunk() -> None:
    """The per-chunk collection of collected_per_chunk (nothing when collection is automatic)."""
    if not gc.isenabled():
        gc.collect(1)


def unheld_required(valid: pd.DataFrame, leave_out: Collection[str] = ()) -> str | None:
    """The source field of a required payment column that no row of this chunk fills (the file
    has no such column, as Ministry of Defence card files have no payee), or None.

    `valid` may leave out the columns no row fills (CheckedChunk.payment_batch): a required
    column it does not hold, unless named in `leave_out`, is one no row fills.
    """
    if not len(valid):
        return None
    for spec in load_descriptor("payment")["fields"]:
        name = spec["name"]
        if not spec.get("constraints", {}).get("required") or name in leave_out:
            continue
        if name not in valid or valid[name].isna().all():
            return spec.get("moneytrail:from") or name
    return None
