"""Detect and decode the encodings publishers use: UTF-8, UTF-8 with BOM, cp1252, mixed, UTF-16."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

CHUNK_BYTES = 1 << 20
UTF8_BOM = codecs.BOM_UTF8
# A valid multi-byte UTF-8 sequence: its presence in a file that is not valid UTF-8 means the
# publisher's tool glued UTF-8 lines onto cp1252 ones (seen in a real FCO file). Bytes are
# mapped to classes (lead bytes of 2, 3 and 4-byte sequences a, b, c; continuation bytes d)
# and the class string searched, as fast as memory: a regex search of a 150 MB file takes
# seconds.
_BYTE_CLASSES = bytes(
    ord("a") if 0xC2 <= b <= 0xDF else ord("b") if 0xE0 <= b <= 0xEF
    else ord("c") if 0xF0 <= b <= 0xF4 else ord("d") if 0x80 <= b <= 0xBF else ord("x")
    for b in range(256)
)
MIXED_ERRORS = "moneytrail-cp1252-fallback"
CP1252_ERRORS = "moneytrail-latin1-fallback"
# Excel's "Unicode Text" export is UTF-16; without a BOM its ASCII shows as every other byte NUL.
UTF16_NUL_SHARE = 0.8


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


def utf16_codec(head: bytes) -> str | None:
    """'utf-16' for text that opens with a UTF-16 BOM, 'utf-16-le'/'-be' for BOM-less UTF-16."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not head.startswith(
        codecs.BOM_UTF32_LE
    ):
        return "utf-16"
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even_nul, odd_nul = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
    if odd_nul >= UTF16_NUL_SHARE * pairs and even_nul <= (1 - UTF16_NUL_SHARE) * pairs:
        return "utf-16-le"
    if even_nul >= UTF16_NUL_SHARE * pairs and odd_nul <= (1 - UTF16_NUL_SHARE) * pairs:
        return "utf-16-be"
    return None


def detect_encoding(chunks: Iterator[bytes]) -> str:
    """Return 'utf-8', 'utf-8-sig', 'cp1252', 'mixed' or a UTF-16 codec for a stream's chunks.

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
            if utf16 := utf16_codec(chunk[:4096]):
                return utf16
            has_bom = chunk.startswith(UTF8_BOM)
            first = False
        if not multibyte and _has_multibyte(tail + chunk):
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


def _has_multibyte(data: bytes) -> bool:
    """True when the bytes hold a UTF-8 lead byte followed by its continuation bytes.

    Only the lead bytes are looked at closely: in an English cp1252 file they are a byte in a
    thousand, so a whole file is scanned in a fraction of the time a test of every byte took
    (_has_multibyte_bytewise, the same answer; a test checks the two agree).
    """
    octets = np.frombuffer(data, dtype=np.uint8)
    leads = np.flatnonzero((octets >= 0xC2) & (octets <= 0xF4))
    if not leads.size:
        return False
    kind = octets[leads]
    needed = np.where(kind <= 0xDF, 1, np.where(kind <= 0xEF, 2, 3))
    found = np.ones(leads.size, dtype=bool)
    for step in (1, 2, 3):
        at = leads + step
        inside = at < octets.size
        following = octets[np.minimum(at, octets.size - 1)]
        continues = inside & (following >= 0x80) & (following <= 0xBF)
        found &= (needed < step) | continues
    return bool(found.any())


def _has_multibyte_bytewise(data: bytes) -> bool:
    """_has_multibyte by classifying every byte: the reference it is tested against."""
    classes = data.translate(_BYTE_CLASSES)
    return b"ad" in classes or b"bdd" in classes or b"cddd" in classes


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
        # A UTF-16 file cut at an odd byte ends in half a character: it becomes U+FFFD.
        "utf-16": ("utf-16", "replace"),
        "utf-16-le": ("utf-16-le", "replace"),
        "utf-16-be": ("utf-16-be", "replace"),
    }[encoding]
    return io.TextIOWrapper(stream, encoding=codec, errors=errors, newline="")
