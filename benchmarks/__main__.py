"""Run every benchmark, print one table of its targets and write the figures as JSON.

    python -m benchmarks [--quick] [--json PATH] [--only NAME ...]

Each benchmark is a module with `run(quick: bool = False) -> dict` giving its targets, each
measured against a baseline taken in the same process (the machine is shared: compare ratios).
A benchmark that is missing or fails is reported as an error row and the others still run; the
exit status is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.site_latency import machine, revision

BENCHMARKS = {"ingest": "benchmarks.ingest", "reharvest": "benchmarks.reharvest",
              "site": "benchmarks.site_latency", "userpath": "benchmarks.userpath",
              "cluster": "benchmarks.cluster"}
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
COLUMNS = ("benchmark", "target", "measured", "baseline", "ratio", "met")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    started = datetime.now(UTC)
    results = [_run(name, args.quick) for name in args.only or BENCHMARKS]
    output = {"generated_at": started.isoformat(timespec="seconds"), "quick": args.quick,
              "command": " ".join(["python -m benchmarks", *(sys.argv[1:] if argv is None
                                                              else argv)]),
              "machine": machine(), "code": revision(), "benchmarks": results}
    print(_table(results))
    path = Path(args.json) if args.json else RESULTS / (
        "bench-quick.json" if args.quick else "bench.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {path}")
    return 1 if any(r.get("error") for r in results) else 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, seconds not minutes: checks the harness, no verdicts")
    parser.add_argument("--json", metavar="PATH",
                        help=f"where to write the figures (default {RESULTS}/bench.json, "
                             "or bench-quick.json with --quick)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help=f"run only these ({', '.join(BENCHMARKS)}, or a module's name)")
    return parser.parse_args(argv)


def _run(name: str, quick: bool) -> dict:
    """One benchmark's result, or an error row saying why there is none."""
    module = BENCHMARKS.get(name, name if "." in name else f"benchmarks.{name}")
    print(f"== {name} ({module}){' --quick' if quick else ''}", flush=True)
    started = time.perf_counter()
    try:
        runner = importlib.import_module(module).run
    except (ImportError, AttributeError) as missing:
        return _error(name, module, f"not available: {type(missing).__name__}: {missing}",
                      started)
    try:
        result = runner(quick=quick)
        targets = result["targets"]
    except Exception as failure:  # any failure of one benchmark: report it, run the others
        return _error(name, module, f"failed: {type(failure).__name__}: {failure}", started,
                      traceback.format_exc())
    return {**result, "name": name, "module": module, "targets": targets,
            "seconds": round(time.perf_counter() - started, 1), "error": None}


def _error(name: str, module: str, message: str, started: float,
           trace: str | None = None) -> dict:
    print(f"   {message}", flush=True)
    return {"name": name, "benchmark": name, "module": module, "targets": [],
            "seconds": round(time.perf_counter() - started, 1), "error": message,
            "traceback": trace}


def _table(results: list[dict]) -> str:
    """benchmark, target, measured, baseline, ratio, met: one line per target."""
    rows = []
    for result in results:
        if result["error"]:
            rows.append((result["name"], f"ERROR: {result['error']}", "", "", "", ""))
        for target in result["targets"]:
            rows.append((result["name"], f"{target['name']} ({target['target']})",
                         f"{_number(target['measured'])} {target['unit']}",
                         _number(target.get("baseline")), _number(target.get("ratio")),
                         {True: "met", False: "NOT MET", None: "-"}[target.get("met")]))
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    widths[1] = min(widths[1], 70)
    lines = [[*COLUMNS], ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(f"{cell:<{w}}" for cell, w in zip(line, widths, strict=True))
                     .rstrip() for line in lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


if __name__ == "__main__":
    sys.exit(main())
