"""A payment's lasting id (warehouse.load.payment_keys): what keeps a payment link working."""

import collections
import random

from warehouse.load import KEY_BITS, payment_keys

ROWS = [("T1", "2025-03-01", 10000, "ACME LTD"), (None, "2025-03-02", 20000, "BETA LTD"),
        (None, "2025-03-02", 20000, "BETA LTD"), ("T3", "2025-03-03", 30000, "GAMMA LTD")]


def keys(rows, publisher="my-trust", url="https://example.org/march.csv", chunk=None):
    seen: collections.Counter = collections.Counter()
    size = chunk or len(rows)
    return [k for at in range(0, len(rows), size)
            for k in payment_keys(publisher, url, rows[at:at + size], seen)]


def test_the_same_rows_give_the_same_keys_however_the_file_is_chunked():
    assert keys(ROWS) == keys(ROWS, chunk=1) == keys(ROWS, chunk=3)


def test_identical_lines_are_distinct_payments_and_all_keys_are_in_range():
    found = keys(ROWS)
    assert len(set(found)) == len(ROWS)
    assert all(2 ** KEY_BITS <= k < 2 ** (KEY_BITS + 1) for k in found)


def test_reordering_distinct_payments_keeps_each_ones_key():
    rng = random.Random(7)
    rows = [(f"T{n}", f"2025-03-{n % 28 + 1:02d}", n * 100, f"SUPPLIER {n}") for n in range(500)]
    shuffled = rows[:]
    rng.shuffle(shuffled)
    assert dict(zip(rows, keys(rows), strict=True)) == dict(
        zip(shuffled, keys(shuffled), strict=True))


def test_another_publisher_or_series_gives_other_keys():
    base = set(keys(ROWS))
    assert not base & set(keys(ROWS, publisher="other-trust"))
    assert not base & set(keys(ROWS, url="https://example.org/april.csv"))
