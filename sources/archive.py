"""The raw archive: every harvested byte kept by sha256, never deleted, with a manifest."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from sources.read import file_sha256


@dataclass
class FetchRecord:
    """One attempt to fetch one URL, as written to the manifest."""

    publisher_id: str
    url: str
    fetched_at: str
    status: str  # new, updated, unchanged, withdrawn, error
    http_status: int | None = None
    sha256: str | None = None
    size: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    error: str | None = None
    schema: str = "spend"


def object_path(root: Path, sha256: str) -> Path:
    """Where an archive under ROOT keeps the bytes whose checksum is SHA256: what the site
    serves archived copies from, without reading the archive's manifest."""
    return Path(root) / "objects" / sha256[:2] / sha256


class Archive:
    """Content-addressed raw files under `root/objects`, and `root/manifest.jsonl`.

    The manifest is append-only: the latest record of a URL that holds bytes says what the
    archive last knew of that URL (its sha256 and the validators for a conditional GET).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.manifest = self.root / "manifest.jsonl"
        self.objects.mkdir(parents=True, exist_ok=True)
        self._read_manifest()

    def path_of(self, sha256: str) -> Path:
        return object_path(self.root, sha256)

    def last(self, url: str) -> FetchRecord | None:
        """The last record of `url` whatever its outcome (withdrawn and errors included)."""
        return self._last.get(url)

    def latest(self, url: str) -> FetchRecord | None:
        """The last record of `url` that carried bytes, or None for a URL never fetched."""
        return self._latest.get(url)

    def known_urls(self, publisher_id: str) -> list[str]:
        # A copy first: other threads harvesting other publishers may record meanwhile.
        return [url for url, r in list(self._latest.items()) if r.publisher_id == publisher_id]

    def store(self, source: Path) -> str:
        """Move a downloaded file into the archive and return its sha256."""
        sha256 = file_sha256(source)
        target = self.path_of(sha256)
        if target.exists():
            source.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, target)
        return sha256

    def temporary(self) -> Path:
        """A fresh file inside the archive's folder, so a finished download moves, not copies."""
        handle, name = tempfile.mkstemp(dir=self.root, prefix=".download-")
        os.close(handle)
        return Path(name)

    def record(self, record: FetchRecord) -> None:
        with self.manifest.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(record), sort_keys=True) + "\n")
        self._remember(record)

    def _remember(self, record: FetchRecord) -> None:
        self._last[record.url] = record
        if record.sha256:
            self._latest[record.url] = record

    def _read_manifest(self) -> None:
        self._last: dict[str, FetchRecord] = {}
        self._latest: dict[str, FetchRecord] = {}
        if self.manifest.exists():
            with self.manifest.open(encoding="utf-8") as lines:
                for line in lines:
                    self._remember(FetchRecord(**json.loads(line)))

