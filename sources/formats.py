"""Tell a file's format from its bytes, never from its name."""

from __future__ import annotations

import re
import zipfile
import zlib
from typing import BinaryIO

from sources.encodings import utf16_codec

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_HTML = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<\?xml[^>]*>\s*<html)", re.I)
SNIFF_BYTES = 4096


def sniff_format(stream: BinaryIO) -> str:
    """Return one of csv, xlsx, xls, ods, zip, html, pdf, empty or binary.

    The stream is left at position 0.
    """
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if not head.strip():
        return "empty"
    if head.startswith(OLE2_MAGIC):
        return "xls"
    if head.startswith(ZIP_MAGIC):
        return _zip_format(stream)
    if head.startswith(b"%PDF"):
        return "pdf"
    if _HTML.match(head.lstrip(b"\xef\xbb\xbf")):
        return "html"
    if utf16_codec(head) is None and _looks_binary(head):
        return "binary"
    return "csv"


def _zip_format(stream: BinaryIO) -> str:
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").startswith(
                b"application/vnd.oasis.opendocument.spreadsheet"
            ):
                return "ods"
            if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
                return "xlsx"
            return "zip"
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError,
            zlib.error):
        # A truncated or corrupted archive: read_tables says so when it refuses the file.
        return "binary"
    finally:
        stream.seek(0)


def _looks_binary(head: bytes) -> bool:
    # Text files may carry a stray NUL or two; a real binary file is full of control bytes.
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > max(2, len(head) // 10)
