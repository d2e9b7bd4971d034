"""Publisher-specific reading quirks, kept as data in quirks.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

QUIRKS_PATH = Path(__file__).with_name("quirks.yaml")
DATE_ORDERS = ("DMY", "MDY")


@dataclass(frozen=True)
class Quirks:
    """How to read one publisher's files where the generic rules are not enough."""

    header_overrides: dict[str, str | None] = field(default_factory=dict)
    date_order: str | None = None


@lru_cache(maxsize=1)
def _all_quirks(path: Path = QUIRKS_PATH) -> dict[str, dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def publisher_quirks(publisher_id: str | None) -> Quirks:
    """The quirks recorded for a publisher, or none."""
    entry = _all_quirks().get(publisher_id or "", {})
    order = entry.get("date_order")
    if order is not None and order not in DATE_ORDERS:
        raise ValueError(f"{QUIRKS_PATH}: {publisher_id}: date_order must be one of {DATE_ORDERS}")
    return Quirks(dict(entry.get("header_overrides") or {}), order)
