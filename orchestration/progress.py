"""How far long work has got: a line on a terminal's standard error, rewritten as the work goes,
and nothing at all when standard error is not a terminal (a log, CI)."""

import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Self

import click

# Clears the terminal line the cursor is on.
CLEAR = "\r\033[K"

# Where a Dagster asset running in this process tells how far it has got: set by the
# `moneytrail` command around its in-process runs, None anywhere else (`dagster dev`, another
# executor's process, a test), where telling is a no-op.
_sink: Callable[[str], None] | None = None


@contextlib.contextmanager
def reported_to(sink: Callable[[str], None]) -> Iterator[None]:
    """Send what assets running in this process tell (`load_counter`) to SINK while the
    block runs."""
    global _sink
    before, _sink = _sink, sink
    try:
        yield
    finally:
        _sink = before


def load_counter(label: str) -> Callable[[int, int, int], None] | None:
    """A callback for warehouse.ingest.load_archived that tells the sink 'LABEL: file 3 of 6,
    41,200 rows', or None when nobody listens."""
    sink = _sink
    if sink is None:
        return None
    return lambda number, count, rows: sink(f"{label}: file {number} of {count}, {rows:,} rows")


class StatusLine:
    """One line on standard error that each `show` replaces, when it is a terminal. It is
    shown a file or a chunk of rows at a time, so drawing it each time costs nothing."""

    def __init__(self) -> None:
        self.shown = sys.stderr.isatty()
        self.text = ""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *raised) -> None:
        self.clear()

    def show(self, text: str) -> None:
        if self.shown and text != self.text:
            self._draw(text)
        self.text = text

    def echo(self, line: str, err: bool = False) -> None:
        """Print a line on stdout (or stderr) above the status line, which is drawn again."""
        self.clear()
        click.echo(line, err=err)
        if self.shown and self.text:
            self._draw(self.text)

    def clear(self) -> None:
        if self.shown and self.text:
            sys.stderr.write(CLEAR)
            sys.stderr.flush()

    def _draw(self, text: str) -> None:
        # Cut to the terminal's width: a line that wrapped could not be cleared from its start.
        width = shutil.get_terminal_size().columns - 1
        sys.stderr.write(CLEAR + text[:width])
        sys.stderr.flush()


class FilesProgress(StatusLine):
    """The files and rows a command over files has done: 'loading: file 3 of 6 (may.csv),
    41,200 rows' while it runs, and a line at the end saying how fast it went."""

    def __init__(self, paths: Sequence[Path | str], label: str) -> None:
        super().__init__()
        self.paths, self.label = paths, label
        self.rows = self._before = self._number = 0
        self._started = time.perf_counter()

    def start(self, path: Path | str) -> None:
        """A file begins."""
        self._number += 1
        self._before = self.rows
        self._name = Path(path).name
        self.add_rows(0)

    def add_rows(self, rows: int) -> None:
        """Rows of the file read (or loaded) so far: a callback for the reader or loader."""
        self.rows += rows
        where = (f"file {self._number} of {len(self.paths)} ({self._name})"
                 if len(self.paths) > 1 else self._name)
        self.show(f"{self.label} {where}: {self.rows:,} rows")

    def done(self, rows: int) -> None:
        """The file is done: ROWS is its count as its report gives it."""
        self.rows = self._before + rows

    def summary(self, verb: str) -> str | None:
        """'validated 200 files (3.4 MB, 412,000 rows) in 2.1 s: 95 files/s', or None for
        one file."""
        if len(self.paths) < 2:
            return None
        seconds = time.perf_counter() - self._started
        megabytes = sum(Path(p).stat().st_size for p in self.paths) / 1e6
        rate = len(self.paths) / seconds
        per_second = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"
        return (f"{verb} {len(self.paths)} files ({megabytes:,.1f} MB, {self.rows:,} rows) "
                f"in {seconds:.1f} s: {per_second} files/s")
