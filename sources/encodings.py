"""Detect and decode the encodings publishers use: UTF-8, UTF-8 with BOM, cp1252, mixed."""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from typing import BinaryIO

CHUNK_BYTES = 1 << 20
UTF8_BOM = codecs.BOM_UTF8
# A valid multi-byte UTF-8 sequence: its presence in a file that is not valid UTF-8 means the
# publisher's tool glued UTF-8 lines onto cp1252 ones (seen in a real FCO file).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
MIXED_ERRORS = "moneytrail-cp1252-fallback"
CP1252_ERRORS = "moneytrail-latin1-fallback"


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode each byte that is not UTF-8 as cp1252 (latin-1 for its five unassigned bytes)."""
    bad = error.object[error.start : error.end]
    return "".join(_cp1252_char(byte) for byte in bad), error.end


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    """cp1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D unassigned; keep them as latin-1."""
    bad = error.object[error.start : error.end]
    return bad.decode("latin-1"), error.end


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return bytes([byte]).decode("latin-1")


codecs.register_error(MIXED_ERRORS, _cp1252_fallback)
codecs.register_error(CP1252_ERRORS, _latin1_fallback)


def detect_encoding(chunks: Iterator[bytes]) -> str:
    """Return 'utf-8', 'utf-8-sig', 'cp1252' or 'mixed' for a byte stream read in chunks.

    The whole stream is scanned because a single cp1252 byte can sit deep in a large file.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    first = True
    has_bom = False
    invalid = False
    multibyte = False
    tail = b""
    for chunk in chunks:
        if first:
            has_bom = chunk.startswith(UTF8_BOM)
            first = False
        if not multibyte and _UTF8_MULTIBYTE.search(tail + chunk):
            multibyte = True
        tail = chunk[-3:]
        if not invalid:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                invalid = True
        if invalid and multibyte:
            break
    if not invalid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            invalid = True
    if not invalid:
        return "utf-8-sig" if has_bom else "utf-8"
    return "mixed" if multibyte else "cp1252"


def iter_chunks(stream: BinaryIO, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield a binary stream in fixed-size chunks."""
    while chunk := stream.read(size):
        yield chunk


def open_text(stream: BinaryIO, encoding: str) -> io.TextIOWrapper:
    """Wrap a binary stream as text in the detected encoding, never failing on a stray byte.

    newline="" keeps CR, LF and CRLF as line ends without translating them, which is what the
    csv module needs to read bare-CR files and quoted fields holding line breaks.
    """
    codec, errors = {
        "utf-8": ("utf-8", MIXED_ERRORS),
        "utf-8-sig": ("utf-8-sig", MIXED_ERRORS),
        "mixed": ("utf-8", MIXED_ERRORS),
        "cp1252": ("cp1252", CP1252_ERRORS),
    }[encoding]
    return io.TextIOWrapper(stream, encoding=codec, errors=errors, newline="")
