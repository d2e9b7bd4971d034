"""Run the `moneytrail` command with its standard error on a pseudo-terminal, as in a shell."""

import os
import pty
import signal
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def interruptible() -> None:
    """Run in a child before its command starts (Popen's preexec_fn): Ctrl-C interrupts it as
    it does a command started at a terminal, even where the test run itself inherited SIGINT
    ignored, as a job a non-interactive shell starts in the background does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def in_terminal(*args: str, env: dict[str, str] | None = None,
                timeout: float = 300) -> tuple[int, str, str]:
    """`moneytrail ARGS` with stderr on a terminal and stdout on a pipe: its exit code, its
    stdout and everything the terminal was sent."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "orchestration.cli", *args], cwd=REPO,
                               env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    shown = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every process holding the terminal has closed it
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        os.close(controller)
    return process.returncode, stdout.decode(), shown.decode(errors="replace")
