"""Generations of the published site, so that updating it never touches what is served.

`DATA/site` is a symbolic link to one generation, `DATA/site.g<N>`: a folder of databases,
metadata.json, inspect.json and a state file saying what each database was built from. An
update writes into the current generation when no server holds it, through temporary files
and one transaction of the combined database; when a server does, it brings a *spare*
generation (the one served before, or a copy of the current one) up to date and points the
link at it in one rename: a reader sees the old site or the new one, never a mix. Databases
that did not change are hard links shared between generations (they are never written after
they are built); the combined database, which every update changes, has a copy in each.

`moneytrail serve` holds a shared lock on the generation it serves for as long as Datasette
runs, and an update never writes into a generation somebody holds. A generation whose update
stopped part-way has no state file: nothing serves it, and the next build replaces it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO

STATE = ".built-from.json"
LOCK = ".serving"
_NUMBER = re.compile(r"\.g(\d+)$")


def current(site: Path) -> Path | None:
    """The generation the site link points to; a site built before generations is its own
    folder."""
    if site.is_symlink():
        target = site.resolve()
        return target if target.is_dir() else None
    return site if site.is_dir() else None


def all_of(site: Path) -> list[Path]:
    """Every generation of SITE, oldest first."""
    found = [(int(m.group(1)), p) for p in site.parent.glob(f"{site.name}.g*")
             if (m := _NUMBER.search(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def new(site: Path) -> Path:
    """An empty generation numbered after every other."""
    numbers = [int(_NUMBER.search(p.name).group(1)) for p in all_of(site)]
    path = site.with_name(f"{site.name}.g{max(numbers, default=0) + 1}")
    path.mkdir(parents=True)
    return path


def state(generation: Path) -> dict | None:
    """What a complete generation was built from; None while it is being built or updated,
    or after a build that failed."""
    try:
        return json.loads((generation / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_state(generation: Path, built_from: dict) -> None:
    temporary = generation / (STATE + ".new")
    temporary.write_text(json.dumps(built_from, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temporary, generation / STATE)


def clear_state(generation: Path) -> None:
    (generation / STATE).unlink(missing_ok=True)


def claim(generation: Path) -> BinaryIO | None:
    """GENERATION held for writing until the returned file is closed; None while a server
    holds it (or another update writes it)."""
    handle = open(generation / LOCK, "a+b")  # noqa: SIM115 (closed by the caller)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def held(generation: Path) -> bool:
    handle = claim(generation)
    if handle is None:
        return True
    handle.close()
    return False


def hold_for_serving(generation: Path) -> int:
    """A shared lock on GENERATION that a process started with os.exec* keeps (its file
    descriptor is inherited): updates then leave that generation alone. Blocks while an
    update is writing it."""
    descriptor = os.open(generation / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(descriptor, fcntl.LOCK_SH)
    os.set_inheritable(descriptor, True)
    return descriptor


def copy(source: Path, target: Path, copied: tuple[str, ...]) -> None:
    """TARGET as SOURCE: the files named in COPIED copied, every other database hard-linked."""
    for path in source.iterdir():
        if path.name in (STATE, LOCK) or path.is_dir():
            continue
        if path.name in copied or path.suffix != ".db":
            shutil.copyfile(path, target / path.name)
        else:
            link(path, target / path.name)


def link(source: Path, target: Path) -> None:
    """TARGET as a hard link to SOURCE (a copy where the file system has none), replacing it."""
    temporary = target.with_name(target.name + ".new")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
    os.replace(temporary, target)


def point(site: Path, generation: Path) -> None:
    """Make SITE a link to GENERATION in one rename. A site folder from before generations is
    moved aside first and removed."""
    if site.exists() and not site.is_symlink():
        old = new(site)
        old.rmdir()
        site.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    temporary = site.with_name(site.name + ".link")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(generation.name)
    os.replace(temporary, site)


def prune(site: Path, current_one: Path) -> None:
    """Remove every generation that no server holds, but CURRENT_ONE and the newest other of
    the same code (the spare the next update may write while a server holds CURRENT_ONE)."""
    basis = (state(current_one) or {}).get("basis")
    spare = next((g for g in reversed(all_of(site)) if g.resolve() != current_one.resolve()
                  and (state(g) or {}).get("basis") == basis), None)
    keep = {current_one.resolve()} | ({spare.resolve()} if spare is not None else set())
    for generation in all_of(site):
        if generation.resolve() not in keep and not held(generation):
            shutil.rmtree(generation, ignore_errors=True)
