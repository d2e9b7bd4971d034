"""Generate "a year of England": hundreds of publishers' monthly messy spending files and the truth.

    python -m benchmarks.england [--publishers 400] [--months 12] [--seed 1] [--scale 1]
                                 [--cache DIR]

Publishers come in the kinds England has (counties, metropolitan and London boroughs, unitaries,
districts, fire and police), in about England's shares, and their files are sized as theirs are:
a county writes 15,000 to 40,000 payments a month, a district 500 to 3,000; at the defaults the
year holds about 20 million rows. Each file is written by benchmarks.messy's generator (its
header spellings, amounts, redactions, blank rows and bad rows), with what each publisher
keeps the same from month to month drawn once from its own seed: its header spelling, its date
format, its encoding and its suppliers, most of them from one national pool shared by every
publisher, some local ones shared by its neighbours. Files are written in blocks, never held
in memory, deterministically for a seed; a world is cached on disk by its (publishers, months,
seed, scale) and reused, since writing 20 million rows takes minutes.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import json
import math
import os
import shutil
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from benchmarks.messy import (
    _SECOND,
    BLOCK_ROWS,
    COLUMNS,
    DATE_FORMATS,
    DATE_WEIGHTS,
    HEADERS,
    REDACTED,
    MessyFile,
    _block,
    _date_texts,
    _money,
    _vocabulary,
)

CACHE = Path(os.environ.get("MONEYTRAIL_BENCH_CACHE",
                            Path.home() / ".cache" / "moneytrail" / "benchmarks"))
WORLD_FILE = "world.json"
FIRST_MONTH = dt.date(2023, 4, 1)  # the year runs April to March, as councils' years do
MIN_ROWS = 20  # below this a file cannot hold each kind of bad row
MONTHLY_SWING = (0.8, 1.2)  # a month's rows, as a share of the publisher's usual month
PUBLISHED_DAY = 20  # files appear on this day of the next month (the Code allows a month)


@dataclass(frozen=True)
class Kind:
    """A kind of publisher: how it is named, its registry kind, its share of publishers and
    the payments it writes in a usual month (drawn log-uniformly between low and high)."""

    name: str  # "{town}" is replaced by the publisher's town
    registry_kind: str
    share: float
    low: int
    high: int


# About England's mix (21 counties, 36 metropolitan boroughs, 33 London boroughs, 62 unitaries,
# 164 districts, fire and police bodies): the mean file is about 4,200 rows.
KINDS = (
    Kind("{town} County Council", "council", 0.05, 15_000, 40_000),
    Kind("{town} Metropolitan Borough Council", "council", 0.09, 4_000, 14_000),
    Kind("{town} Council", "council", 0.15, 3_000, 10_000),
    Kind("London Borough of {town}", "council", 0.08, 3_000, 9_000),
    Kind("{town} District Council", "council", 0.46, 500, 3_000),
    Kind("{town} Fire and Rescue Authority", "fire", 0.09, 200, 1_500),
    Kind("Police and Crime Commissioner for {town}", "police", 0.08, 1_000, 4_000),
)
_TOWN_STARTS = ("Ash", "Bar", "Brad", "Bur", "Cal", "Chel", "Dor", "Elm", "Fen", "Glen", "Ham",
                "Hart", "Kings", "Lang", "Mal", "Mid", "Nor", "Oak", "Pen", "Rad", "Red",
                "Stan", "Thorn", "Wad", "Wen", "Whit", "Wood", "Yar")
_TOWN_ENDS = ("ford", "ley", "ton", "bury", "field", "wick", "ham", "stead", "worth", "mouth",
              "dale", "minster")
TOWNS = tuple(start + end for start in _TOWN_STARTS for end in _TOWN_ENDS)
_QUARTERS = ("", "North ", "South ", "East ", "West ")
# Publishers this many apart in the list are neighbours: they share local suppliers.
NEIGHBOURS = 8
LOCAL_SUFFIXES = ("Ltd", "Limited", "LLP", "CIC", "& Co")
NATIONAL_SUPPLIERS = 2_000  # of messy's 3,000 per vocabulary; the rest of a pool is local
# Encodings publishers write, with their shares.
ENCODINGS = ("cp1252", "utf-8-sig", "utf-8")
ENCODING_WEIGHTS = (0.6, 0.25, 0.15)


@dataclass
class WorldFile:
    """One publisher-month file and what a correct load of it must find."""

    publisher: str
    month: str  # yyyy-mm
    made: MessyFile

    @property
    def url_path(self) -> str:
        return f"{self.publisher}/spend-{self.month}.csv"


@dataclass
class World:
    """A generated year: its files under `www`, by publisher, and the publishers' entries."""

    www: Path
    seed: int
    scale: float
    publishers: list[dict]
    files: list[WorldFile]

    @property
    def rows(self) -> int:
        return sum(f.made.rows for f in self.files)

    def expected(self) -> dict[str, tuple[int, int, int]]:
        """(rows loaded, rows quarantined, loaded pence) a correct load finds, by publisher."""
        totals: dict[str, tuple[int, int, int]] = {p["id"]: (0, 0, 0) for p in self.publishers}
        for f in self.files:
            loaded, held, pence = totals[f.publisher]
            totals[f.publisher] = (loaded + f.made.loaded, held + f.made.quarantined,
                                   pence + f.made.loaded_pence)
        return totals


@dataclass
class _Style:
    """What a publisher keeps from month to month."""

    name: str
    header: list[str]
    encoding: str
    date_format: str  # one of DATE_FORMATS
    vocabulary: dict
    vat: dict[str, str]  # a payee as written -> its VAT number, the same for every publisher
    usual_rows: float


def make_world(publishers: int = 400, months: int = 12, seed: int = 1, scale: float = 1.0,
               cache: Path = CACHE, progress: Callable[[str], None] = print) -> World:
    """The world for these sizes, from the cache, or generated into it first."""
    folder = Path(cache) / (f"england-{publishers}x{months}-seed{seed}"
                            + (f"-scale{scale:g}" if scale != 1 else ""))
    if (folder / WORLD_FILE).exists():
        return _read_world(folder)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    entries = [_entry(index, seed) for index in range(publishers)]
    made, started = [], time.perf_counter()
    for index, entry in enumerate(entries):
        style = _style(entry, index, seed, scale)
        made += [_write_month(partial / "www", entry["id"], style, index, month, seed)
                 for month in range(months)]
        if (index + 1) % 20 == 0 or index + 1 == publishers:
            rows = sum(f.made.rows for f in made)
            progress(f"   generated {index + 1} of {publishers} publishers, {rows:,} rows, "
                     f"{time.perf_counter() - started:.0f} s")
    world = World(partial / "www", seed, scale, entries, made)
    _write_world(world, partial / WORLD_FILE)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return _read_world(folder)


def linked_copy(world: World, www: Path) -> World:
    """The world served from `www`, which holds hard links to the cached files (copies where
    links cannot be made): republishing a file there leaves the cache as it was."""
    for f in world.files:
        target = www / f.url_path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f.made.path, target)
        except OSError:
            shutil.copy2(f.made.path, target)
    files = [dataclasses.replace(f, made=dataclasses.replace(f.made, path=www / f.url_path))
             for f in world.files]
    return dataclasses.replace(world, www=www, files=files)


def republish(world: World, publisher: str, month: str, version: int = 1) -> WorldFile:
    """Rewrite one publisher-month under `world.www` with changed rows (a correction); the new
    file's truth replaces the old in `world`. The old file is replaced, not written over, so
    a hard link to it (the cache's) keeps the old bytes."""
    index = next(i for i, p in enumerate(world.publishers) if p["id"] == publisher)
    style = _style(world.publishers[index], index, world.seed, world.scale)
    staging = world.www.with_name(world.www.name + ".republished")
    new = _write_month(staging, publisher, style, index, _month_number(month), world.seed,
                      version)
    new.made.path = world.www / new.url_path
    os.replace(staging / new.url_path, new.made.path)
    shutil.rmtree(staging)
    world.files = [new if (f.publisher, f.month) == (publisher, month) else f
                   for f in world.files]
    return new


def write_registry(world: World, base_url: str, path: Path) -> Path:
    """A registry (sources/registry.py's format) whose feeds list each publisher's files at
    `base_url`, where a server serves `world.www`."""
    by_publisher: dict[str, list[str]] = {}
    for f in world.files:
        by_publisher.setdefault(f.publisher, []).append(f"{base_url}/{f.url_path}")
    entries = [{**entry, "feeds": [{"kind": "urls", "urls": by_publisher[entry["id"]]}]}
               for entry in world.publishers]
    text = yaml.safe_dump({"publishers": entries}, sort_keys=False, allow_unicode=True,
                          width=100)
    Path(path).write_text("# A simulated year of England: benchmarks/england.py.\n" + text,
                          encoding="utf-8")
    return Path(path)


def _entry(index: int, seed: int) -> dict:
    """A publisher's registry entry; its kind follows a low-discrepancy sequence, so that any
    number of publishers holds the kinds in about their shares, the first a county."""
    kind = _kind(index)
    town = TOWNS[(index * 11 + seed) % len(TOWNS)]
    name = kind.name.format(town=_QUARTERS[index // len(TOWNS) % len(_QUARTERS)] + town)
    return {"id": "-".join(name.lower().split()) + f"-{index:03d}",
            "org_id": f"GB-SIM-{index:04d}", "name": name, "kind": kind.registry_kind}


def _kind(index: int) -> Kind:
    position = (index * (math.sqrt(5) - 1) / 2) % 1
    edge = 0.0
    for kind in KINDS:
        edge += kind.share
        if position < edge:
            return kind
    return KINDS[-1]


def _style(entry: dict, index: int, seed: int, scale: float) -> _Style:
    rng = np.random.default_rng([seed, index])
    header = [str(rng.choice(HEADERS[name])) for name in COLUMNS]
    encoding = str(rng.choice(ENCODINGS, p=ENCODING_WEIGHTS))
    date_format = int(rng.choice(len(DATE_FORMATS), p=DATE_WEIGHTS))
    kind = _kind(index)
    usual = math.exp(rng.uniform(math.log(kind.low), math.log(kind.high))) * scale
    vocabulary = _vocabulary(rng)
    town = TOWNS[(index // NEIGHBOURS * 5 + seed) % len(TOWNS)]
    local = [f"{town} {trade} {suffix}" for trade in _SECOND for suffix in LOCAL_SUFFIXES]
    vocabulary["names"] = vocabulary["names"][:NATIONAL_SUPPLIERS] + local
    vat = {name: _vat(name) for name in vocabulary["names"]}
    vat |= {name: "" for name in (*REDACTED, "")}
    return _Style(entry["name"], header, encoding, DATE_FORMATS[date_format], vocabulary, vat,
                  usual)


def _vat(name: str) -> str:
    """A payee's VAT number, from its name as any publisher may spell it (commas and spaces
    aside); a third have none."""
    key = zlib.crc32(" ".join(name.replace(",", "").split()).lower().encode())
    return f"GB{100_000_000 + key % 900_000_000}" if key % 3 else ""


def _month_number(month: str) -> int:
    year, number = map(int, month.split("-"))
    return (year - FIRST_MONTH.year) * 12 + number - FIRST_MONTH.month


def _write_month(www: Path, publisher: str, style: _Style, index: int, month: int, seed: int,
                version: int = 0) -> WorldFile:
    """Write one publisher's file for one month (0 = the year's first) under `www`."""
    first = _add_months(FIRST_MONTH, month)
    rng = np.random.default_rng([seed, index, month, version])
    rows = max(MIN_ROWS, round(style.usual_rows * rng.uniform(*MONTHLY_SWING)))
    days = [first + dt.timedelta(d) for d in range((_add_months(first, 1) - first).days)]
    spelled = _date_texts(days)[DATE_FORMATS.index(style.date_format)]
    vocabulary = {**style.vocabulary, "days": days, "dates": [spelled] * len(DATE_FORMATS)}
    world_file = WorldFile(publisher, f"{first:%Y-%m}", MessyFile(
        Path(), rows, 0, 0, 0, 0, style.header, header_line=3, encoding=style.encoding))
    path = www / world_file.url_path
    path.parent.mkdir(parents=True, exist_ok=True)
    world_file.made.path = path
    _write_rows(path, style, vocabulary, rng, world_file.made, f"{first:%B %Y}")
    if not version:  # a republished file is new now; the year's files appeared on time
        published = dt.datetime.combine(_add_months(first, 1).replace(day=PUBLISHED_DAY),
                                        dt.time(12), dt.UTC).timestamp()
        os.utime(path, (published, published))
    return world_file


def _write_rows(path: Path, style: _Style, vocabulary: dict, rng: np.random.Generator,
                made: MessyFile, month: str) -> None:
    made.skipped = {"preamble": 1, "blank": 1, "repeated_header": 1, "totals": 1}
    repeat_at = made.rows // 2
    with path.open("w", encoding=style.encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow([f"Expenditure over £500 – {style.name} – {month}"])
        writer.writerow([])
        writer.writerow(style.header)
        for start in range(0, made.rows, BLOCK_ROWS):
            count = min(BLOCK_ROWS, made.rows - start)
            rows, _ = _block(rng, count, vocabulary, made, first=start == 0)
            for row in rows:
                if row and row[3]:  # a payment, not a blank row: its payer and payee's VAT
                    row[0] = style.name
                    row[8] = style.vat[row[6]]
            if start <= repeat_at < start + count:
                rows.insert(repeat_at - start, style.header)
            writer.writerows(rows)
        writer.writerow(["Total", *[""] * (COLUMNS.index("Amount") - 1),
                         _money(made.total_pence, 1), *[""] * (len(COLUMNS) - 6)])


def _add_months(day: dt.date, months: int) -> dt.date:
    number = day.year * 12 + day.month - 1 + months
    return dt.date(number // 12, number % 12 + 1, 1)


def _write_world(world: World, path: Path) -> None:
    files = [{"publisher": f.publisher, "month": f.month,
              **{k: v for k, v in dataclasses.asdict(f.made).items() if k != "path"}}
             for f in world.files]
    path.write_text(json.dumps({"seed": world.seed, "scale": world.scale,
                                "publishers": world.publishers, "files": files}) + "\n",
                    encoding="utf-8")


def _read_world(folder: Path) -> World:
    data = json.loads((folder / WORLD_FILE).read_text(encoding="utf-8"))
    www = folder / "www"
    made = []
    for entry in data["files"]:
        publisher, month = entry.pop("publisher"), entry.pop("month")
        made.append(WorldFile(publisher, month, MessyFile(path=Path(), **entry)))
        made[-1].made.path = www / made[-1].url_path
    return World(www, data["seed"], data["scale"], data["publishers"], made)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.england",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--publishers", type=int, default=400)
    parser.add_argument("--months", type=int, default=12, help="months, from April 2023")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every file's rows")
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"default {CACHE}")
    args = parser.parse_args(argv)
    world = make_world(args.publishers, args.months, args.seed, args.scale, args.cache)
    sizes = sorted(f.made.rows for f in world.files)
    print(f"{world.www}: {len(world.publishers)} publishers, {len(world.files)} files, "
          f"{world.rows:,} rows (files of {sizes[0]:,} to {sizes[-1]:,} rows, median "
          f"{sizes[len(sizes) // 2]:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
