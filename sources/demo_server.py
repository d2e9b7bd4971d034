"""A real local HTTP server for the demo and tests: static files, CKAN lookups, injected faults."""

from __future__ import annotations

import email.utils
import hashlib
import json
import mimetypes
import re
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

CKAN_SHOW = "/api/3/action/package_show"
CKAN_PREFIX = "/api/3/action/"
_DATASET = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# A body sent under a drip fault goes out this many bytes at a time.
DRIP_BYTES = 256
# Status answered by a fail_times fault that names no status: what an overloaded server says.
DEFAULT_FAIL_STATUS = 503
# How often the serving thread checks for stop(): short, so tests do not wait on teardown.
POLL_SECONDS = 0.05
NOT_FOUND_HTML = (
    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
    b"<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body>"
    b"</html>\n"
)
# What a content management system serves, with status 200, when a file has gone.
SORRY_HTML = (
    b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    b"<title>Sorry, page not found</title></head>\n<body><h1>Sorry, page not found</h1>"
    b"<p>The page you were looking for may have moved. Try our search.</p></body></html>\n"
)
EXTRA_TYPES = {".csv": "text/csv", ".xlsx": (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ".zip":
    "application/zip", ".json": "application/json", ".ods":
    "application/vnd.oasis.opendocument.spreadsheet", ".xls": "application/vnd.ms-excel"}


@dataclass
class Fault:
    """What to do wrong when a path is requested; set as `server.faults[path] = Fault(...)`.

    delay: seconds to wait before answering. hang: never answer; hold the connection until
    the client gives up or the server stops (a server that accepted and went silent).
    redirect: answer 302 to this location (a path redirecting to itself loops). status:
    answer this status with a small body; with fail_times, only the first fail_times requests
    fail (503 when no status is given), then the file is served. html: serve a "Sorry, page
    not found" page with status 200. reset: send the headers and half the body, then reset
    the connection. truncate: declare this many bytes more than the body that is sent.
    chunked: send the file with chunked transfer encoding, so no Content-Length says its
    size in advance. drip: send the body DRIP_BYTES at a time, sleeping this many seconds
    before each piece, until the client hangs up.
    """

    status: int | None = None
    fail_times: int | None = None
    html: bool = False
    reset: bool = False
    truncate: int = 0
    delay: float = 0.0
    hang: bool = False
    drip: float = 0.0
    chunked: bool = False
    redirect: str | None = None
    failures: int = field(default=0, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def fails_now(self) -> int | None:
        """The error status to answer for this request, or None to go on serving."""
        if self.fail_times is None:
            return self.status
        with self._lock:
            if self.failures >= self.fail_times:
                return None
            self.failures += 1
        return self.status or DEFAULT_FAIL_STATUS


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: LocalServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", owner.port), _Handler)

    def handle_error(self, request, client_address) -> None:
        # Clients that give up mid-body (timeouts in tests) are expected; stay quiet.
        pass


class LocalServer:
    """Serve a directory over HTTP on 127.0.0.1, on a free port unless one is given, in a daemon
    thread."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = Path(root).resolve()
        self.port = port  # 0: any free port
        self.faults: dict[str, Fault] = {}
        self.requests: list[tuple[str, str, int]] = []
        # Set while stopping, so handlers holding a connection open (hang, drip) let go.
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LocalServer:
        if self._server is None:
            self.stopping.clear()
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                name="moneytrail-demo-server", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def answered(self) -> list[tuple[str, str, int]]:
        """A copy of the requests answered so far, safe to read while others are served."""
        with self._lock:
            return list(self.requests)

    def file_for(self, path: str) -> Path | None:
        """The file under the root that a URL path names, or None (never outside the root)."""
        parts = [p for p in unquote(path).split("/") if p]
        if any(p in ("..", ".") or "\\" in p or "\0" in p for p in parts):
            return None
        target = self.root.joinpath(*parts).resolve()
        if target != self.root and not target.is_relative_to(self.root):
            return None
        return target if target.exists() else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "moneytrail-demo/1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, each answer would
    # wait ~40 ms for the client's delayed ACK, which no real web server makes a client do.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests and the demo read server.requests instead

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        path = urlsplit(self.path).path
        self._respond(path, self.server.owner.faults.get(path), body)

    def _respond(self, path: str, fault: Fault | None, body: bool) -> int:
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.hang:
                return self._hang()
            if fault.redirect is not None:
                return self._send(302, b"", "text/plain", body, {"Location": fault.redirect})
            failing = fault.fails_now()
            if failing is not None:
                return self._send(failing, f"{failing}\n".encode(), "text/plain", body)
            if fault.html:
                return self._send(200, SORRY_HTML, "text/html; charset=utf-8", body)
        if path.startswith(CKAN_PREFIX):
            return self._ckan(path, body)
        target = self.server.owner.file_for(path)
        if target is not None and target.is_dir():
            if not path.endswith("/"):
                return self._send(301, b"", "text/plain", body, {"Location": path + "/"})
            target = target / "index.html"
        if target is None or not target.is_file():
            return self._send(404, NOT_FOUND_HTML, "text/html; charset=utf-8", body)
        return self._file(target, fault, body)

    def _ckan(self, path: str, body: bool) -> int:
        dataset = parse_qs(urlsplit(self.path).query).get("id", [""])[0]
        document = self.server.owner.root / "ckan" / f"{dataset}.json"
        if path == CKAN_SHOW and _DATASET.match(dataset) and document.is_file():
            return self._send(200, document.read_bytes(), "application/json", body)
        missing = {"success": False, "error": {"message": "Not found", "__type": "Not Found Error"}}
        return self._send(404, json.dumps(missing).encode(), "application/json", body)

    def _file(self, target: Path, fault: Fault | None, body: bool) -> int:
        data = target.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest() + '"'
        mtime = int(target.stat().st_mtime)
        headers = {"ETag": etag, "Last-Modified": email.utils.formatdate(mtime, usegmt=True)}
        if self._not_modified(etag, mtime):
            return self._send(304, b"", None, False, headers)
        kind = EXTRA_TYPES.get(target.suffix.lower()) or mimetypes.guess_type(target.name)[0]
        kind = kind or "application/octet-stream"
        if fault is None or not body or not (
                fault.reset or fault.truncate or fault.drip or fault.chunked):
            return self._send(200, data, kind, body, headers)
        if fault.chunked:
            self._headers(200, kind, None, {**headers, "Transfer-Encoding": "chunked"})
            self._write_chunked(data)
            return 200
        self._headers(200, kind, len(data) + fault.truncate, headers)
        if fault.reset:
            self._write(data[: len(data) // 2])
            self._reset()
        elif fault.drip:
            self._drip(data, fault.drip)
        else:
            self._write(data)
        self.close_connection = True
        return 200

    def _drip(self, data: bytes, pause: float) -> None:
        for start in range(0, len(data), DRIP_BYTES):
            if self.server.owner.stopping.wait(pause):
                return
            if not self._write(data[start : start + DRIP_BYTES]):
                return  # the client hung up: stop dripping into a closed socket

    def _write_chunked(self, data: bytes) -> None:
        for start in range(0, len(data), 1 << 16):
            piece = data[start : start + (1 << 16)]
            if not self._write(b"%x\r\n%s\r\n" % (len(piece), piece)):
                return
        self._write(b"0\r\n\r\n")

    def _hang(self) -> int:
        # Say nothing; wait for the client to close its end (the socket reads as ended).
        self.close_connection = True
        while not self.server.owner.stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], POLL_SECONDS)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                break
        return 0

    def _not_modified(self, etag: str, mtime: int) -> bool:
        match = self.headers.get("If-None-Match")
        if match is not None:
            tags = {t.strip().removeprefix("W/") for t in match.split(",")}
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            when = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return when is not None and mtime <= when.timestamp()

    def _send(self, status: int, data: bytes, kind: str | None, body: bool,
              headers: dict[str, str] | None = None) -> int:
        self._headers(status, kind, None if status == 304 else len(data), headers or {})
        if body and status != 304:
            self._write(data)
        return status

    def _headers(self, status: int, kind: str | None, length: int | None,
                 headers: dict[str, str]) -> None:
        # Recorded before the client can read the answer, so a test sees it straight after.
        self.server.owner.record(self.command, urlsplit(self.path).path, status)
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Server", self.server_version)
        if kind:
            self.send_header("Content-Type", kind)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write(self, data: bytes) -> bool:
        """Send bytes; False when the client has hung up (there is nothing more to say)."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return False
        return True

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send a TCP RST, as a crashed server does.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()
