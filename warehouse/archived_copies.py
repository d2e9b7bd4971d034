"""The archived copy of every file the site loaded: its address on the site, and whether the
site may serve it (never the bytes of a file that names private individuals it withholds)."""

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from schemas.privacy import WITHHELD
from sources.archive import object_path

ROUTE = "/-/archive"
# Where the raw archive is (sources/archive.py's root), set by `moneytrail serve` and by a
# published package's serve.sh; a site served without it offers no archived copies.
ARCHIVE_VARIABLE = "MONEYTRAIL_ARCHIVE"
SHA256 = re.compile(r"[0-9a-f]{64}")
CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xls": "application/vnd.ms-excel",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "zip": "application/zip",
}
# Why the site does not serve a file's bytes, checked in this order: the first that holds.
WITHHELD_BECAUSE = {
    "unchecked": "moneytrail could not read this file, so it could not check it for the names "
                 "of private individuals",
    "names_people": "this file names private individuals, whose names this site withholds",
    "earlier_version": "this is an earlier version of a file that names private individuals, "
                       "whose names this site withholds",
}
# Every version of every URL that has a version with the bytes asked for: what the site knows
# of each. A live version's payments and quarantined rows are on the site; a superseded one's
# are not, so it answers for the versions after it and for the payments they dropped.
VERSIONS = f"""
with version as (
  select f.id, f.url, f.sha256, f.status, f.format, f.fetched_at,
    f.status not in ('current', 'withdrawn', 'superseded') or not json_valid(f.report)
      as unchecked,
    coalesce(json_extract(case when json_valid(f.report) then f.report end,
                          '$.personal_rows'), 0) > 0
      or exists (select 1 from payments p where p.file_id = f.id
                 and p.beneficiary_name = '{WITHHELD}')
      or exists (select 1 from quarantine q where q.file_id = f.id
                 and q.personal_data is not null) as names_people
  from files f where f.url in (select url from files where sha256 = :sha256))
select v.url, v.status, v.format, v.fetched_at, v.unchecked, v.names_people,
  v.status = 'superseded' and (
    exists (select 1 from version o where o.url = v.url and o.names_people)
    or exists (select 1 from withdrawn_payments w where w.source_url = v.url
               and w.beneficiary_name is null)) as earlier_version
from version v where v.sha256 = :sha256 order by v.fetched_at desc, v.id desc"""


@dataclass(frozen=True)
class ArchivedFile:
    """One file's bytes as the site knows them, under every URL that published them."""

    sha256: str
    url: str  # the publisher's address, of the latest version with these bytes
    names: tuple[str, ...]  # the file names of those URLs, the latest first
    format: str | None
    fetched_at: str | None
    withheld: str | None  # why the site does not serve the bytes; None when it does

    @property
    def path(self) -> str:
        """The archived copy's address on the site."""
        return copy_path(self.sha256, self.url)


def original_name(url: str, sha256: str) -> str:
    """The name a file was published under ('Spend April.csv' from '.../Spend%20April.csv'),
    or its SHA-256 when its address names none."""
    return unquote(PurePosixPath(urlsplit(url or "").path).name) or sha256


def copy_path(sha256: str, url: str) -> str:
    """'/-/archive/<sha256>/<file name>': where the site serves the archived copy."""
    return f"{ROUTE}/{sha256}/{quote(original_name(url, sha256), safe='')}"


def archive_root() -> Path | None:
    """The raw archive the site serves copies from, when the server was told of one."""
    value = os.environ.get(ARCHIVE_VARIABLE)
    return Path(value) if value else None


def archived_file(conn: sqlite3.Connection, sha256: str) -> ArchivedFile | None:
    """What the site database CONN knows of the file SHA256, or None for bytes it never
    loaded (or anything that is not a SHA-256)."""
    if not SHA256.fullmatch(sha256 or ""):
        return None
    rows = conn.execute(VERSIONS, {"sha256": sha256}).fetchall()
    if not rows:
        return None
    url, _, format_, fetched_at = rows[0][:4]
    reasons = [reason for i, reason in enumerate(WITHHELD_BECAUSE, start=4)
               if any(row[i] for row in rows)]
    names = tuple(dict.fromkeys(original_name(row[0], sha256) for row in rows))
    return ArchivedFile(sha256, url, names, format_, fetched_at,
                        WITHHELD_BECAUSE[reasons[0]] if reasons else None)


def served_files(conn: sqlite3.Connection) -> list[ArchivedFile]:
    """Every file whose archived copy the site database CONN may serve."""
    shas = [row[0] for row in conn.execute("select distinct sha256 from files where sha256 "
                                           "is not null order by sha256")]
    found = (archived_file(conn, sha256) for sha256 in shas)
    return [f for f in found if f is not None and f.withheld is None]


def content_type(format_: str | None) -> str:
    return CONTENT_TYPES.get((format_ or "").lower(), "application/octet-stream")


def content_disposition(name: str) -> str:
    """An attachment named NAME: plain ASCII for old clients, the exact name (RFC 6266's
    filename*) for the rest; quotes, slashes and control characters cannot get through."""
    plain = re.sub(r"[^A-Za-z0-9._ ()-]", "_", name).strip() or "file"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


# The served site's answers, by database file and SHA-256: its databases are immutable while
# it runs. Only files it knows are kept, so asking for made-up checksums cannot fill it.
_KNOWN: dict[tuple[str, str], ArchivedFile] = {}


async def find(database, sha256: str) -> ArchivedFile | None:
    """What the served Datasette database (the combined one) knows of SHA256."""
    if database is None or not SHA256.fullmatch(sha256 or ""):
        return None
    key = (str(database.path), sha256)
    if key not in _KNOWN:
        found = await database.execute_fn(lambda conn: archived_file(conn, sha256))
        if found is None:
            return None
        _KNOWN[key] = found
    return _KNOWN[key]


def stored_copy(found: ArchivedFile | None, root: Path | None = None) -> Path | None:
    """The archived bytes of FOUND, when the site may serve them and the archive (ROOT, else
    the server's) holds them: a file loaded from a local file (`moneytrail load`) has none."""
    root = root or archive_root()
    if found is None or found.withheld or root is None:
        return None
    path = object_path(root, found.sha256)
    return path if path.is_file() else None
