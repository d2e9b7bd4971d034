"""`moneytrail load` leaves no process behind: when it ends, when it fails, on Ctrl-C.

Each load runs as the leader of a session of its own, and /proc tells which processes belong
to that session: the command and every process it started, and theirs in turn.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.messy import write_messy_csv
from tests.terminal import interruptible
from warehouse.preparing import PARALLEL_MIN_BYTES

REPO = Path(__file__).resolve().parents[2]
ROWS = 60_000  # about 9 MB: read in a second process for several seconds
# A failure injected into a real load: the first insert raises, while the file is being read.
FAILING_LOAD = (
    "import sys\n"
    "import warehouse.load\n"
    "def insert(conn, batch):\n"
    "    raise RuntimeError('the disk is full')\n"
    "warehouse.load._insert_rows = insert\n"
    "from orchestration.cli import main\n"
    "main(sys.argv[1:])\n"
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    path = write_messy_csv(tmp_path_factory.mktemp("big") / "spend.csv", ROWS).path
    assert path.stat().st_size >= 2 * PARALLEL_MIN_BYTES
    return path


def session(sid: int) -> list[tuple[int, int, str]]:
    """The live processes (not zombies) of session `sid`: pid, parent's pid, command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The fields after the command's name, which is in brackets and may hold spaces.
            state, parent, _group, member_of = (
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[:4])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue  # it ended while being looked at
        if int(member_of) == sid and state != "Z":
            found.append((int(entry.name), int(parent), command))
    return found


def serving(sid: int) -> bool:
    """Whether the forkserver runs in the session (it warms up first, for a second or two)."""
    return any("multiprocessing.forkserver" in command for _, _, command in session(sid))


def reading(sid: int) -> bool:
    """Whether a process that the forkserver forked, one reading a file, runs in the session."""
    members = session(sid)
    servers = {pid for pid, _, command in members if "multiprocessing.forkserver" in command}
    return any(parent in servers for _, parent, _ in members)


def start(tmp_path: Path, *args: str, code: str | None = None) -> subprocess.Popen:
    """`moneytrail load ARGS` (or the script `code` with those arguments), in a new session."""
    env = {k: v for k, v in os.environ.items() if k != "MONEYTRAIL_WAREHOUSE_URL"}
    program = ["-c", code] if code else ["-m", "orchestration.cli"]
    command = [sys.executable, *program, "load", *args, "--publisher", "testshire",
               "--data-dir", str(tmp_path / "data")]
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        return subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True,
                                preexec_fn=interruptible,
                                stdout=stdout, stderr=stderr)


def finish(process: subprocess.Popen, tmp_path: Path, timeout: float = 300) -> tuple[str, str]:
    """Wait for the command (killing its session if it takes too long); its stdout, stderr."""
    try:
        process.wait(timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()


def test_nothing_outlives_a_load(tmp_path, big):
    small = tmp_path / "march.csv"
    small.write_text("Supplier Name,Payment Date,Amount\nACME LTD,01/03/2025,100.00\n")
    process = start(tmp_path, str(big), str(small))
    stdout, stderr = finish(process, tmp_path)
    assert process.returncode == 0, stderr
    assert "spend.csv: loaded, " in stdout and "march.csv: loaded, 1 rows loaded" in stdout
    assert session(process.pid) == []
    # Over more than one file, the load says how fast it went (the site is built after).
    assert re.search(rf"^loaded 2 files \([\d.]+ MB, {ROWS + 1:,} rows\) in [\d.]+ s: "
                     r"[\d.,]+ files/s$", stderr, flags=re.M), stderr


def test_nothing_outlives_a_load_whose_file_is_refused(tmp_path):
    """No column holds the amount: the first part of the file, read by the command itself,
    refuses it, and the process reading the rest is stopped."""
    refused = tmp_path / "cards.csv"
    rows = "".join(f"Testshire,01/04/2024,T{n},ACME LTD,Repairs\n" for n in range(50_000))
    refused.write_text("Body Name,Date,Transaction Number,Supplier Name,Expense Type\n" + rows)
    assert refused.stat().st_size >= PARALLEL_MIN_BYTES
    process = start(tmp_path, str(refused))
    stdout, stderr = finish(process, tmp_path)
    assert process.returncode == 0, stderr
    assert "cards.csv: rejected, 0 rows loaded, 0 quarantined: cards.csv: no column holds " \
        "Amount, which every payment needs" in stdout
    assert "Traceback" not in stderr
    assert session(process.pid) == []


def test_nothing_outlives_a_load_that_fails(tmp_path, big):
    process = start(tmp_path, str(big), code=FAILING_LOAD)
    _, stderr = finish(process, tmp_path)
    assert process.returncode == 1
    # One traceback, the command's own: the process reading the file says nothing.
    assert stderr.count("Traceback") == 1 and "RuntimeError: the disk is full" in stderr
    assert session(process.pid) == []


@pytest.mark.parametrize("moment", ["warming up", "reading"])
def test_ctrl_c_stops_a_load_and_every_process_it_started(tmp_path, big, moment):
    """Ctrl-C while the forkserver warms up (importing what preparing needs) or while a
    process it forked reads the file: the command alone answers it."""
    process = start(tmp_path, str(big))
    deadline = time.monotonic() + 120
    while not (serving if moment == "warming up" else reading)(process.pid):
        assert process.poll() is None and time.monotonic() < deadline, f"never {moment}"
        time.sleep(0.005)
    if moment == "warming up":
        time.sleep(0.2)  # into its imports, which take a second or more, past Python's start
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends its foreground group
    _, stderr = finish(process, tmp_path, timeout=10)
    assert process.returncode == 1
    assert stderr.strip() == "Aborted!"
    assert session(process.pid) == []


def test_a_small_file_is_read_without_starting_a_process(tmp_path):
    small = tmp_path / "march.csv"
    small.write_text("Supplier Name,Payment Date,Amount\n" + "ACME LTD,01/03/2025,100.00\n" * 50)
    process = start(tmp_path, str(small))
    seen = set()
    while process.poll() is None:
        seen.update(command for _, _, command in session(process.pid))
        time.sleep(0.01)
    _, stderr = finish(process, tmp_path)
    assert process.returncode == 0, stderr
    assert [command for command in seen if "multiprocessing" in command] == []

