"""Load the published Table Schema descriptors and their Transparency Code requirements."""

import json
from pathlib import Path

SCHEMA_DIR: Path = Path(__file__).resolve().parent
SCHEMA_NAMES: tuple[str, ...] = ("spend", "purchase-card", "contract", "grant", "payment")


def load_descriptor(name: str) -> dict:
    """Return the Table Schema descriptor `name` (e.g. "spend") as a dict."""
    if name not in SCHEMA_NAMES:
        raise ValueError(
            f"unknown schema {name!r}: expected one of {', '.join(SCHEMA_NAMES)}"
        )
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def mandatory_requirements(name: str) -> list[dict]:
    """Return the schema's Transparency Code requirements, each met by any one of its fields."""
    return load_descriptor(name).get("transparencyCode", {}).get("mandatory", [])
