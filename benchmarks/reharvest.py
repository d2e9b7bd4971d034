"""Re-harvest with no changes: 400 publishers' files, served by a local HTTP server answering 304.

    python -m benchmarks.reharvest [--publishers 400] [--files 3] [--runs 3] [--quick]
                                   [--json PATH]

Each publisher gets --files small spend CSVs under a temporary folder, all served by one
sources.demo_server.LocalServer. Every publisher is harvested once (cold: every file new), then
--runs times more with nothing changed, so every file answers 304 Not Modified; each re-harvest
is timed whole, from reading the archive's manifest as a fresh run does, with a fresh session per
publisher as each Dagster run makes. The baseline is the same number of plain `requests.get`
calls to the same server, timed in the same process in rounds alternating with the re-harvests,
so noise on a shared machine falls on both; the ratio to it is the figure to compare between
machines. Target (issue 6): a re-harvest of 400 publishers under 20 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.site_latency import machine, revision
from sources.archive import Archive
from sources.demo_server import LocalServer
from sources.harvest import HarvestSettings, harvest_publisher, make_session
from sources.registry import Feed, Publisher

TARGET_S = 20.0
QUICK_PUBLISHERS = 20
ROWS = 40
SETTINGS = HarvestSettings(allow_private=True)


def run(quick: bool = False, publishers: int = 400, files: int = 3, runs: int = 3) -> dict:
    """Time a cold harvest, then `runs` re-harvests with no changes against a bare baseline."""
    if quick:
        publishers, runs = QUICK_PUBLISHERS, 1
    work = Path(tempfile.mkdtemp(prefix="moneytrail-reharvest-"))
    try:
        return _measure(work, publishers, files, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(work: Path, count: int, files: int, runs: int) -> dict:
    _write_files(work / "www", count, files)
    with LocalServer(work / "www") as server:
        chosen = _publishers(server.url, count, files)
        started = time.perf_counter()
        cold = _harvest(chosen, work / "raw")
        cold_s = time.perf_counter() - started
        again, bare, problems = [], [], _problems(cold, "new", 200)
        for _ in range(runs):
            started = time.perf_counter()
            results = _harvest(chosen, work / "raw")
            again.append(time.perf_counter() - started)
            problems += _problems(results, "unchanged", 304)
            bare.append(_bare(chosen))
        answers = server.answered()
    total = count * files
    not_modified = sum(1 for _, _, status in answers if status == 304)
    if not_modified != total * runs:
        problems.append(f"{not_modified} answers were 304, not {total * runs}")
    return _report(count, files, runs, cold_s, again, bare, problems)


def _write_files(www: Path, count: int, files: int) -> None:
    for p in range(count):
        folder = www / f"publisher-{p}"
        folder.mkdir(parents=True)
        for f in range(files):
            lines = ["Supplier Name,Payment Date,Amount,Expense Area"] + [
                f"Supplier {p}-{r} Ltd,{r % 28 + 1:02d}/{f % 12 + 1:02d}/2025,"
                f"{100 + p + r}.{f:02d},Parks" for r in range(ROWS)]
            (folder / f"spend-{f}.csv").write_text("\n".join(lines) + "\n")


def _publishers(base: str, count: int, files: int) -> list[Publisher]:
    return [Publisher(id=f"publisher-{p}", org_id=f"GB-BENCH-P{p}", name=f"Publisher {p}",
                      kind="council", feeds=(Feed("urls", urls=tuple(
                          f"{base}/publisher-{p}/spend-{f}.csv" for f in range(files))),))
            for p in range(count)]


def _harvest(chosen: list[Publisher], raw: Path) -> list:
    archive = Archive(raw)  # read from the manifest, as a fresh run does
    results = []
    for publisher in chosen:
        with make_session(SETTINGS) as session:  # one session per publisher, as each run has
            results.append(harvest_publisher(publisher, archive, session, SETTINGS))
    return results


def _bare(chosen: list[Publisher]) -> float:
    urls = [url for publisher in chosen for url in publisher.feeds[0].urls]
    started = time.perf_counter()
    for url in urls:
        requests.get(url, timeout=30).close()
    return time.perf_counter() - started


def _problems(results: list, status: str, http_status: int) -> list[str]:
    wrong = [r for result in results for r in result.records
             if (r.status, r.http_status) != (status, http_status)]
    return [f"{len(wrong)} files were not {status} ({http_status}): "
            f"{wrong[0].url}: {wrong[0].status} {wrong[0].error or ''}"] if wrong else []


def _report(count, files, runs, cold_s, again, bare, problems) -> dict:
    median, baseline = statistics.median(again), statistics.median(bare)
    total = count * files
    name = f"re-harvest, no changes ({count} publishers, {total:,} files, all 304)"
    note = (f"median of {runs} re-harvest(s) {[round(s, 2) for s in again]}; baseline: "
            f"{total:,} plain requests.get on the same server, median of {runs} "
            f"{[round(s, 2) for s in bare]}")
    return {
        "benchmark": "reharvest",
        "targets": [
            {"name": name, "measured": round(median, 2), "unit": "s",
             "target": f"< {TARGET_S:g} s", "met": median < TARGET_S and not problems,
             "baseline": round(baseline, 2), "ratio": round(median / baseline, 2),
             "note": "; ".join([note, *problems])},
            {"name": f"first harvest ({count} publishers, {total:,} files, all new)",
             "measured": round(cold_s, 2), "unit": "s", "target": "report only", "met": None,
             "baseline": None, "ratio": None,
             "note": "downloads, sniffs and archives every file; one run"},
        ],
        "publishers": count, "files": total, "runs": runs,
        "machine": machine(), "code": revision(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reharvest",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--publishers", type=int, default=400)
    parser.add_argument("--files", type=int, default=3, help="files per publisher")
    parser.add_argument("--runs", type=int, default=3, help="re-harvests to time")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_PUBLISHERS} publishers, one re-harvest (a smoke test)")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    report = run(args.quick, args.publishers, args.files, args.runs)
    for target in report["targets"]:
        verdict = {None: "report only", True: "met", False: "NOT MET"}[target["met"]]
        ratio = "" if target["ratio"] is None else f", {target['ratio']}x the baseline"
        print(f"{target['name']}: {target['measured']} {target['unit']} "
              f"(target {target['target']}: {verdict}{ratio})\n  {target['note']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
