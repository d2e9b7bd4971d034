"""Progress on a terminal: `validate` and `load` say which file they are on and how many rows
they have read, on standard error, and nothing of it reaches a log."""

import subprocess
import sys

from orchestration.progress import CLEAR
from tests.terminal import REPO, in_terminal

HEADER = ("OrganisationLabel,OrganisationalUnit,BeneficiaryName,PaymentDate,Amount,"
          "IrrecoverableVATAmount,Purpose,MerchantCategory\n")
ROW = "Testshire,Highways,ACME LTD,01/04/2024,{n}.00,0.00,Road salt,Materials\n"


def spend(write, name: str, rows: int):
    return write(name, HEADER + "".join(ROW.format(n=n) for n in range(1, rows + 1)))


def shown_lines(shown: str) -> list[str]:
    """Each state the status line was drawn in, in order: what follows each clearing of the
    line, unless it is a whole line printed above it, or nothing (the line cleared at the end)."""
    return [part for part in shown.split(CLEAR)[1:] if part and "\n" not in part]


def test_validate_shows_each_file_and_the_rows_read_so_far(write):
    first, second = spend(write, "april.csv", 3), spend(write, "may.csv", 2)
    code, stdout, shown = in_terminal("validate", str(first), str(second))
    assert code == 0, shown
    assert shown_lines(shown)[:4] == [
        "validating file 1 of 2 (april.csv): 0 rows",
        "validating file 1 of 2 (april.csv): 3 rows",
        "validating file 2 of 2 (may.csv): 3 rows",
        "validating file 2 of 2 (may.csv): 5 rows",
    ]
    # The line is cleared before the summary, which stays.
    assert shown.split(CLEAR)[-1].startswith("validated 2 files (0.0 MB, 5 rows) in ")
    assert "april.csv" in stdout and CLEAR not in stdout


def test_validate_counts_the_rows_of_one_big_file_as_it_goes(write):
    big = spend(write, "year.csv", 120_000)
    code, _, shown = in_terminal("validate", str(big))
    counts = [int(line.rsplit(": ", 1)[1].split()[0].replace(",", ""))
              for line in shown_lines(shown) if line.startswith("validating year.csv: ")]
    assert counts[0] == 0 and counts[-1] == 120_000 and len(counts) > 2, counts
    assert counts == sorted(counts)


def test_load_shows_its_files_and_keeps_each_files_line(write, tmp_path):
    first, second = spend(write, "april.csv", 3), spend(write, "may.csv", 2)
    code, stdout, shown = in_terminal("load", str(first), str(second), "--publisher", "my-trust",
                                      "--data-dir", str(tmp_path / "data"))
    assert code == 0, shown
    assert "loading file 1 of 2 (april.csv): 0 rows" in shown_lines(shown)
    assert "loading file 2 of 2 (may.csv): 5 rows" in shown_lines(shown)
    assert stdout.splitlines()[:2] == ["april.csv: loaded, 3 rows loaded, 0 quarantined",
                                       "may.csv: loaded, 2 rows loaded, 0 quarantined"]


def test_without_a_terminal_only_the_summary_is_written(write, tmp_path):
    first, second = spend(write, "april.csv", 3), spend(write, "may.csv", 2)
    for args in (["validate"], ["load", "--publisher", "my-trust", "--data-dir",
                                str(tmp_path / "data")]):
        done = subprocess.run([sys.executable, "-m", "orchestration.cli", *args, str(first),
                               str(second)], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "\r" not in done.stderr and "\033" not in done.stderr
        assert " 2 files (0.0 MB, 5 rows) in " in done.stderr
