"""Shared fixtures: where the real corpus lives, and a writer for small fixture files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("MONEYTRAIL_CORPUS", REPO.parent / "shared" / "corpus"))
NO_CORPUS = f"the real-file corpus is not at {CORPUS} (set MONEYTRAIL_CORPUS to point at it)"


@pytest.fixture
def corpus() -> Path:
    if not (CORPUS / "EXPECTED.tsv").exists():
        pytest.skip(NO_CORPUS)
    return CORPUS


@pytest.fixture
def write(tmp_path: Path):
    """Write bytes or text (cp1252 unless told otherwise) to a named file under tmp_path."""

    def writer(name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return writer
