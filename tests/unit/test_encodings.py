"""Encodings seen in real files: UTF-8, BOM, cp1252, and UTF-8 lines mixed with cp1252 ones."""

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.encodings import detect_encoding, iter_chunks, open_text


@pytest.mark.parametrize(
    "raw, encoding, text",
    [
        (b"Supplier,Amount\r\nACME,1\r\n", "utf-8", "Supplier,Amount\r\nACME,1\r\n"),
        (b"\xef\xbb\xbfBody,Amount\n", "utf-8-sig", "Body,Amount\n"),  # BOM stripped (Devon)
        (b"Amount \xa3\n1\n", "cp1252", "Amount £\n1\n"),  # cp1252 pound (Hyndburn)
        (b"Neville\xb4s Kitchen\n", "cp1252", "Neville´s Kitchen\n"),  # acute accent (Craven)
        (b"Women\xbfs Aid\n", "cp1252", "Women¿s Aid\n"),  # Leeds 2020
        (b" Amount (\xa3) \nUnder \xc2\xa33000\n", "mixed", " Amount (£) \nUnder £3000\n"),  # FCO
        (b"caf\xc3\xa9\n", "utf-8", "café\n"),
        (b"odd \x81 byte\n", "cp1252", "odd \x81 byte\n"),  # unassigned in cp1252: kept
        (b"lossy \xef\xbf\xbd\n", "utf-8", "lossy \ufffd\n"),  # literal U+FFFD (Oxford 2017)
    ],
)
def test_encoding_detected_and_decoded(raw, encoding, text):
    assert detect_encoding(iter_chunks(io.BytesIO(raw))) == encoding
    assert open_text(io.BytesIO(raw), encoding).read() == text


def test_a_stray_cp1252_byte_deep_in_a_large_file_is_found():
    raw = b"a,b\n" * 500_000 + b"caf\xe9\n"
    assert detect_encoding(iter_chunks(io.BytesIO(raw), size=4096)) == "cp1252"


def test_a_utf8_sequence_split_across_chunks_is_still_utf8():
    raw = b"x" * 4095 + "£".encode()
    assert detect_encoding(iter_chunks(io.BytesIO(raw), size=4096)) == "utf-8"


def test_bare_cr_line_ends_are_kept_for_the_csv_reader():
    text = open_text(io.BytesIO(b"a,b\rc,d\r"), "cp1252")
    assert list(text) == ["a,b\r", "c,d\r"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"\xa3", b"\xc2", b"\xc3\xa9", b"\xe2\x82\xac", b"\xe2",
                                 b"\x82", b"\xf0\x9f\x98\x80", b"\xf0\x9f", b"\xbf", b"\xff",
                                 b"\xf5\x80\x80\x80", b"\xdf\xbf"]), max_size=40)
       .map(b"".join) | st.binary(max_size=64))
def test_the_lead_byte_scan_agrees_with_the_bytewise_one(data):
    from sources.encodings import _has_multibyte, _has_multibyte_bytewise

    assert _has_multibyte(data) == _has_multibyte_bytewise(data)
