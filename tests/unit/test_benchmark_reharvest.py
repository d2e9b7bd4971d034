"""The re-harvest benchmark, small: it runs, every re-harvested file answers 304, and it reports
in the shape the benchmark harness reads. No timings are asserted here."""

import json

from benchmarks import reharvest


def test_quick_run_reports_every_target():
    report = reharvest.run(quick=True)
    assert report["benchmark"] == "reharvest"
    assert report["publishers"] == reharvest.QUICK_PUBLISHERS and report["runs"] == 1
    again, first = report["targets"]
    assert set(again) == {"name", "measured", "unit", "target", "met", "baseline", "ratio",
                          "note"}
    assert again["unit"] == "s" and again["target"] == "< 20 s"
    assert again["measured"] > 0 and again["baseline"] > 0 and again["ratio"] > 0
    assert "were not" not in again["note"] and "304, not" not in again["note"]
    assert first["met"] is None and first["measured"] > 0
    assert {"cpus", "python"} <= set(report["machine"])
    json.dumps(report)


def test_command_line_writes_json(tmp_path, capsys):
    out = tmp_path / "reharvest.json"
    assert reharvest.main(["--publishers", "3", "--files", "2", "--runs", "1",
                           "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["files"] == 6
    assert "re-harvest, no changes (3 publishers, 6 files, all 304)" in capsys.readouterr().out
