"""An archived copy's address, file name and headers (warehouse/archived_copies.py)."""

import pytest

from sources.archive import Archive, object_path
from warehouse.archived_copies import (
    content_disposition,
    content_type,
    copy_path,
    original_name,
)

SHA = "ab" + "0" * 62


@pytest.mark.parametrize("url, name", [
    ("https://council.gov.uk/files/spend-2025-04.csv", "spend-2025-04.csv"),
    ("https://council.gov.uk/files/Spend%20April%202025.xlsx", "Spend April 2025.xlsx"),
    ("https://council.gov.uk/download.csv?id=7&v=2", "download.csv"),
    ("https://council.gov.uk/files/", "files"),
    ("https://council.gov.uk/", SHA),
    ("local:april.csv", "april.csv"),
    ("", SHA),
])
def test_the_original_name_comes_from_the_publishers_url(url, name):
    assert name == original_name(url, SHA)


@pytest.mark.parametrize("url, path", [
    ("https://x.gov.uk/a/spend.csv", f"/-/archive/{SHA}/spend.csv"),
    ("https://x.gov.uk/a/Spend%20April.csv", f"/-/archive/{SHA}/Spend%20April.csv"),
    ("https://x.gov.uk/a/%2E%2E%2Fsecret", f"/-/archive/{SHA}/..%2Fsecret"),
    ("https://x.gov.uk/", f"/-/archive/{SHA}/{SHA}"),
])
def test_the_copy_path_is_the_checksum_then_one_segment_of_name(url, path):
    assert path == copy_path(SHA, url)


@pytest.mark.parametrize("name, header", [
    ("spend.csv", "attachment; filename=\"spend.csv\"; filename*=UTF-8''spend.csv"),
    ("Spend April.csv", "attachment; filename=\"Spend April.csv\"; "
                        "filename*=UTF-8''Spend%20April.csv"),
    ('a"b\\c\r\n.csv', "attachment; filename=\"a_b_c__.csv\"; "
                       "filename*=UTF-8''a%22b%5Cc%0D%0A.csv"),
    ("Gwariant £.csv", "attachment; filename=\"Gwariant _.csv\"; "
                       "filename*=UTF-8''Gwariant%20%C2%A3.csv"),
])
def test_the_download_is_named_safely(name, header):
    assert header == content_disposition(name)


@pytest.mark.parametrize("format_, expected", [
    ("csv", "text/csv"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("XLS", "application/vnd.ms-excel"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("zip", "application/zip"),
    ("html", "application/octet-stream"),
    (None, "application/octet-stream"),
])
def test_each_format_has_its_content_type(format_, expected):
    assert expected == content_type(format_)


def test_the_object_path_is_the_archives_own_layout(tmp_path):
    archive = Archive(tmp_path)
    stored = archive.path_of(archive.store(_written(tmp_path / "f.csv", b"a,b\n")))
    assert stored.read_bytes() == b"a,b\n"
    assert stored == object_path(tmp_path, stored.name)


def _written(path, data: bytes):
    path.write_bytes(data)
    return path
