"""Fetch a publisher's files over HTTP into the raw archive: politely, conditionally, safely."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from sources.archive import Archive, FetchRecord
from sources.formats import sniff_format
from sources.registry import Feed, Publisher

USER_AGENT = "moneytrail/0.1 (open-source harvester of published public spending data)"
SPREADSHEET_FORMATS = {"csv", "xlsx", "xls", "ods", "zip"}
MAX_REDIRECTS = 5
READ_BYTES = 1 << 16


@dataclass(frozen=True)
class HarvestSettings:
    """How politely and how safely to fetch."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # the longest silence between two reads
    max_bytes: int = 512 << 20
    retries: int = 3
    backoff: float = 0.5
    # Only the demo and tests fetch from this machine or a private network.
    allow_private: bool = False
    user_agent: str = USER_AGENT
    # The longest one file's body may take: a server dripping bytes just inside read_timeout
    # would otherwise hold the harvest for ever.
    file_deadline: float = 900.0
    # Hosts fetched even though they are on a private network (an intranet mirror); every
    # other host, and every redirect, is still checked.
    trusted_hosts: frozenset[str] = frozenset()


@dataclass
class HarvestResult:
    """What one harvest of one publisher found."""

    publisher_id: str
    records: list[FetchRecord] = field(default_factory=list)
    error: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.records if r.status == status)

    @property
    def notice(self) -> str | None:
        """What a reader should know though nothing failed: files the publisher withdrew."""
        gone = [f"{r.url}: {r.error}" for r in self.records if r.status == "withdrawn"]
        return "; ".join(gone) or None


class HarvestError(Exception):
    """A fetch failed for a reason worth telling the publisher."""


# What one fetch may fail with; anything else is a bug and is raised.
FAILURES = (HarvestError, requests.RequestException, urllib3.exceptions.HTTPError, ValueError)


def make_session(settings: HarvestSettings) -> requests.Session:
    """A shared session: retries with backoff on 429 and 5xx, an honest User-Agent."""
    session = requests.Session()
    retry = Retry(
        total=settings.retries,
        backoff_factor=settings.backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=("GET", "HEAD"),
        respect_retry_after_header=True,
        raise_on_status=False,
        redirect=0,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = settings.user_agent
    return session


def harvest_publisher(
    publisher: Publisher,
    archive: Archive,
    session: requests.Session,
    settings: HarvestSettings = HarvestSettings(),
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> HarvestResult:
    """Discover a publisher's file URLs from its feeds and fetch each one into the archive.

    One failing file never stops the others; a failing feed is reported, and the files already
    known for the publisher are still checked, so nothing loaded before is lost.
    """
    result = HarvestResult(publisher.id)
    urls: dict[str, str] = {}  # url -> the schema its feed says it follows
    problems = []
    for feed in publisher.feeds:
        try:
            for url in discover(feed, session, settings):
                urls.setdefault(url, feed.schema)
        except FAILURES as failure:
            problems.append(f"feed {feed.url or feed.kind}: {_reason(failure)}")
    for url in archive.known_urls(publisher.id):
        urls.setdefault(url, archive.latest(url).schema)
    for url, schema in urls.items():
        result.records.append(fetch(url, publisher.id, archive, session, settings, now, schema))
    failed = [r for r in result.records if r.status == "error"]
    problems += [f"{r.url}: {r.error}" for r in failed]
    if problems:
        result.error = "; ".join(problems)
    return result


def discover(feed: Feed, session: requests.Session, settings: HarvestSettings) -> list[str]:
    """The file URLs a feed lists, in order, without repeats."""
    if feed.kind == "urls":
        return list(dict.fromkeys(feed.urls))
    if feed.kind == "index":
        page = _listing(session, feed.url, settings)
        links = _links(page.text, page.url)
        pattern = re.compile(feed.pattern)
        return list(dict.fromkeys(link for link in links if pattern.search(link)))
    api = urljoin(feed.url.rstrip("/") + "/", "api/3/action/package_show")
    response = _listing(session, f"{api}?id={feed.dataset}", settings)
    try:
        resources = response.json()["result"]["resources"]
    except (ValueError, KeyError, TypeError):
        raise HarvestError(f"CKAN dataset {feed.dataset!r} did not answer as CKAN does") from None
    return list(dict.fromkeys(r["url"] for r in resources if r.get("url")))


def _listing(session: requests.Session, url: str, settings: HarvestSettings):
    response = _get(session, url, settings, {})
    if response.status_code != 200:
        raise HarvestError(f"HTTP {response.status_code} for the file listing")
    return response


def fetch(
    url: str,
    publisher_id: str,
    archive: Archive,
    session: requests.Session,
    settings: HarvestSettings,
    now: Callable[[], dt.datetime],
    schema: str = "spend",
) -> FetchRecord:
    """Fetch one URL conditionally; archive new bytes; record and return what happened."""
    known = archive.latest(url)
    record = FetchRecord(publisher_id, url, now().isoformat(timespec="seconds"), "error",
                         schema=schema)
    headers = {}
    if known and known.etag:
        headers["If-None-Match"] = known.etag
    if known and known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    try:
        response = _get(session, url, settings, headers, stream=True)
        record.http_status = response.status_code
        _fill(record, known, response, archive, settings)
    except FAILURES as failure:
        record.error = _reason(failure)
    archive.record(record)
    return record


def _fill(record, known, response, archive, settings) -> None:
    status = response.status_code
    if status == 304 and known:
        record.status, record.sha256, record.size = "unchanged", known.sha256, known.size
        record.etag, record.last_modified = known.etag, known.last_modified
        return
    if status in (404, 410):
        if not known:
            raise HarvestError(f"HTTP {status}: the file is not there")
        record.status = "withdrawn"
        record.error = f"HTTP {status}: the publisher has withdrawn this file; its data is kept"
        return
    if status != 200:
        raise HarvestError(f"HTTP {status}")
    path = _download(response, archive, settings)
    with path.open("rb") as stream:
        fmt = sniff_format(stream)
    if fmt not in SPREADSHEET_FORMATS:
        path.unlink()
        what = "an HTML page" if fmt == "html" else f"a {fmt} file"
        raise HarvestError(f"{what} was served where a spreadsheet was expected")
    record.sha256 = archive.store(path)
    record.size = archive.path_of(record.sha256).stat().st_size
    record.etag = response.headers.get("ETag")
    record.last_modified = response.headers.get("Last-Modified")
    record.content_type = response.headers.get("Content-Type")
    if known is None:
        record.status = "new"
    else:
        record.status = "unchanged" if known.sha256 == record.sha256 else "updated"


def _download(response: requests.Response, archive: Archive, settings: HarvestSettings):
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > settings.max_bytes:
        response.close()
        raise HarvestError(f"the file is {declared} bytes, over the {settings.max_bytes} byte cap")
    path = archive.temporary()
    try:
        with path.open("wb") as out:
            for chunk in _body(response, settings):
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        response.close()
    return path


def _body(response: requests.Response, settings: HarvestSettings) -> Iterator[bytes]:
    """The body's pieces as they arrive, within the size cap and the file's deadline.

    read1 returns whatever has arrived, so a slow drip is seen piece by piece and the
    deadline is checked at least once per read_timeout.
    """
    deadline = time.monotonic() + settings.file_deadline
    size = 0
    while chunk := response.raw.read1(READ_BYTES, decode_content=True):
        size += len(chunk)
        if size > settings.max_bytes:
            raise HarvestError(f"the file passed the {settings.max_bytes} byte cap")
        if time.monotonic() > deadline:
            raise HarvestError(f"the download took longer than {settings.file_deadline:g} s "
                               f"({size} bytes had arrived)")
        yield chunk


def _get(session, url, settings, headers, stream=False) -> requests.Response:
    """GET with redirects followed by hand, so each hop is checked before it is fetched."""
    timeout = (settings.connect_timeout, settings.read_timeout)
    seen = [url]
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url, settings)
        response = session.get(url, headers=headers, timeout=timeout, stream=stream,
                               allow_redirects=False)
        if not response.is_redirect:
            return response
        response.close()
        url = urljoin(url, response.headers["Location"])
        if url in seen:
            raise HarvestError(f"a redirect loop: the redirects lead back to {url}")
        seen.append(url)
    raise HarvestError(f"more than {MAX_REDIRECTS} redirects from {seen[0]}")


def check_url(url: str, settings: HarvestSettings) -> None:
    """Refuse anything but http(s), and private or loopback hosts outside demo and tests."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarvestError(f"refusing {url!r}: only http(s) URLs are fetched")
    if settings.allow_private or parts.hostname in settings.trusted_hosts:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, None)}
    except (socket.gaierror, UnicodeError) as failure:
        raise HarvestError(f"cannot resolve {parts.hostname}: {failure}") from None
    for address in addresses:
        if not _public(ipaddress.ip_address(address.split("%")[0])):
            raise HarvestError(f"refusing {url!r}: {parts.hostname} is a private address")


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it is.
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_global and not ip.is_multicast


def _reason(failure: BaseException) -> str:
    if isinstance(failure, HarvestError):
        return str(failure)
    if isinstance(failure, (requests.exceptions.ChunkedEncodingError,
                            urllib3.exceptions.ProtocolError)):
        return "the connection broke off mid-file"
    if isinstance(failure, (requests.Timeout, urllib3.exceptions.TimeoutError)):
        return "timed out"
    if isinstance(failure, requests.ConnectionError):
        # After the last retry, requests wraps what that try ran into.
        cause = getattr(failure.args[0], "reason", None) if failure.args else None
        if isinstance(cause, urllib3.exceptions.TimeoutError):
            return "timed out"
        return f"could not connect ({type(cause or failure).__name__})"
    return f"{type(failure).__name__}: {failure}"


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def _links(html: str, base: str) -> list[str]:
    parser = _LinkParser()
    parser.feed(html)
    return [urljoin(base, href) for href in parser.links]
