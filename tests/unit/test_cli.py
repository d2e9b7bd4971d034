"""`moneytrail validate`: readable in a terminal, complete in JSON, honest exit codes."""

import json
import re
from pathlib import Path

from click.testing import CliRunner

from orchestration.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "validate.md"
CLEAN = (
    "OrganisationLabel,OrganisationalUnit,BeneficiaryName,PaymentDate,Amount,"
    "IrrecoverableVATAmount,Purpose,MerchantCategory\n"
    "Testshire,Highways,ACME LTD,01/04/2024,1000.00,0.00,Road salt,Materials\n"
)
BROKEN = "Supplier,Date,Amount\nACME,01/04/2024,#REF!\n"


def run(*args):
    return CliRunner().invoke(main, ["validate", *map(str, args)])


def test_json_has_one_object_per_file_with_the_documented_keys(write):
    result = run("--json", write("a.csv", CLEAN), write("b.csv", BROKEN))
    reports = json.loads(result.stdout)
    assert [Path(r["file"]).name for r in reports] == ["a.csv", "b.csv"]
    documented = set(re.findall(r"^\| `(\w+)` \|", DOCS.read_text(), flags=re.M))
    assert set(reports[0]) == documented
    assert reports[1]["errors"][0]["examples"][0] == {
        "sheet": None, "row": 2, "field": "Amount", "value": "#REF!"}


def test_exit_code_is_zero_only_when_every_file_passes(write):
    assert run(write("a.csv", CLEAN)).exit_code == 0
    assert run(write("a.csv", CLEAN), write("b.csv", BROKEN)).exit_code == 1
    assert run("--schema", "spend", write("c.csv", CLEAN.replace("Purpose", "Colour"))
               ).exit_code == 1


def test_terminal_report_says_what_is_wrong_and_where(write):
    output = run(write("b.csv", BROKEN)).output
    # The verdict comes first, under the file's name: why the file failed, in one line.
    assert output.splitlines()[1] == ("  FAIL: the amount column 'Amount' (crosswalk) reads as "
                                      "money on only 0 of 1 rows (first at row 2: '#REF!')")
    assert "'Supplier'" in output and "BeneficiaryName" in output
    assert "missing mandatory Transparency Code fields: department, purpose" in output
    assert "error: Amount spreadsheet_error in 1 rows" in output
    assert "row 2  '#REF!'" in output


def test_several_files_end_with_how_fast_they_went_on_stderr(write):
    result = run(write("a.csv", CLEAN), write("b.csv", BROKEN))
    assert re.fullmatch(r"validated 2 files \(0\.0 MB, 2 rows\) in \d+\.\d s: [\d.,]+ files/s\n",
                        result.stderr)
    assert "validated" not in result.stdout
    assert run(write("a.csv", CLEAN)).stderr == ""  # one file: nothing to compare


def test_unknown_schema_is_a_usage_error(write):
    result = run("--schema", "nonsense", write("a.csv", CLEAN))
    assert result.exit_code == 2
