"""`moneytrail validate` starts cheaply: it imports what reading and checking a file need, and
none of the warehouse, Dagster, Datasette or the test tools."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SPEND = (
    "Body Name,Date,Transaction Number,Amount,Supplier Name,Expense Type\n"
    "Testshire,01/04/2024,T1,\"1,000.00\",ACME LTD,Repairs\n"
    "Testshire,02/04/2024,T2,12.50,Beta Care,Care\n"
)
# Packages validate has no use for: the warehouse and what it loads, and hypothesis (with the
# pytest it imports), which pandera would import for its data synthesis when installed.
UNNEEDED = ("dagster", "datasette", "warehouse", "sqlalchemy", "hypothesis", "pytest")
VALIDATE = """
import json, sys
from click.testing import CliRunner
from orchestration.cli import main
result = CliRunner().invoke(main, ["validate", sys.argv[1]])
assert result.exception is None or isinstance(result.exception, SystemExit), result.output
print(json.dumps({"output": result.stdout,
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in %r)}))
"""


def test_validate_imports_nothing_it_does_not_need(tmp_path):
    path = tmp_path / "march.csv"
    path.write_text(SPEND, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", VALIDATE % (UNNEEDED,), str(path)],
                          capture_output=True, text=True, cwd=REPO, check=True)
    found = json.loads(done.stdout)
    assert "rows: 2 read, 2 valid, 0 quarantined" in found["output"]
    assert found["modules"] == []
