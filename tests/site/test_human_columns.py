"""What people read and download from the table and query pages: amounts in pounds (with the
exact pence beside them in CSV and JSON), columns headed in words, names not ids, dates as
people write them."""

import asyncio
import csv
import io
import re
import sqlite3

import pytest

from warehouse.serving import make_datasette
from warehouse.site_metadata import QUERIES

DATABASES = ("moneytrail", "northmoor-borough-council")


@pytest.fixture(scope="module")
def site(demo):
    _, site_dir, _ = demo
    return make_datasette(site_dir), site_dir


def get(site, path: str):
    response = asyncio.run(site[0].client.get(path))
    assert response.status_code == 200, (path, response.text[:500])
    return response


def tables_with_pence(site_dir) -> dict[str, list[str]]:
    with sqlite3.connect(site_dir / "moneytrail.db") as db:
        names = [n for (n,) in db.execute("select name from sqlite_master where type = "
                                          "'table' and name not like 'payments_fts%'")]
        return {n: [c[1] for c in db.execute(f"pragma table_xinfo({n})")
                    if c[1].endswith("_pence")] for n in names}


@pytest.mark.parametrize("database", DATABASES)
def test_every_amount_in_pence_comes_with_its_pounds_in_json_and_csv(site, database):
    for table, pence in tables_with_pence(site[1]).items():
        if not pence:
            continue
        found = get(site, f"/{database}/{table}.json?_shape=array&_size=20").json()
        for row in found:
            for column in pence:
                pounds = row[column.removesuffix("_pence") + "_pounds"]
                assert (pounds is None) == (row[column] is None), (table, row)
                if row[column] is not None:
                    assert round(pounds * 100) == row[column], (table, column, row)
        text = get(site, f"/{database}/{table}.csv?_size=20").text
        header = next(csv.reader(io.StringIO(text)))
        assert {c.removesuffix("_pence") + "_pounds" for c in pence} <= set(header), table


def test_the_pounds_in_a_csv_are_pounds_and_pence(site):
    text = get(site, "/moneytrail/payments.csv?_size=max&_sort=id").text
    for row in csv.DictReader(io.StringIO(text)):
        pence, pounds = int(row["amount_pence"]), row["amount_pounds"]
        assert re.fullmatch(r"-?\d+(\.\d{1,2})?", pounds), pounds
        assert round(float(pounds) * 100) == pence


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_every_canned_query_gives_pounds_beside_its_pence(site, query):
    # Every publisher's answer, but the trail's, which starts from one.
    publisher = "northmoor-borough-council" if query == "money_trail" else ""
    params = f"publisher={publisher}&pounds=1000&supplier=Moorland+Energy+Supply+Ltd"
    answer = get(site, f"/moneytrail/{query}.json?_shape=objects&{params}").json()
    pence = [c for c in answer["columns"] if c.endswith("_pence")]
    assert pence and {c.removesuffix("_pence") + "_pounds" for c in pence} <= \
        set(answer["columns"]), query
    for row in answer["rows"]:
        for column in [c for c in row if c.endswith("_pence")]:
            assert round(row[column.removesuffix("_pence") + "_pounds"] * 100) == row[column]


def test_a_table_page_heads_its_columns_in_words_and_shows_each_amount_once(site):
    page = get(site, "/moneytrail/payments?_size=5").text
    headings = re.findall(r'<th [^>]*data-column="([^"]+)"[^>]*>\s*(?:<a [^>]*>)?([^<&]+)',
                          page)
    said = {column: words.strip() for column, words in headings}
    assert said["amount_pence"] == "Amount" and said["publisher_id"] == "Publisher"
    assert said["beneficiary_name"] == "Payee" and said["payment_date"] == "Payment date"
    assert "amount_pounds" not in said  # the pence are shown in pounds already
    assert "sorted by amount, largest first" in page
    assert "amount_pence descending" not in page


def test_a_reference_reads_as_a_name_linked_to_its_page(site):
    page = get(site, "/moneytrail/payments?_size=50&publisher_id=fellbrook-council").text
    assert '<a href="/publisher/fellbrook-council">Fellbrook Metropolitan Borough Council</a>' \
        in page
    # Datasette's own rendering adds the id in grey after the name: not here.
    assert "&nbsp;<em>fellbrook-council</em>" not in page
    assert re.search(r'<td class="col-file_id[^"]*"><a href="/moneytrail/files/\d+">'
                     r'fellbrook-spend-2025-\d\d\.csv</a>', page)
    assert re.search(r'<td class="col-payment_date[^"]*"><time datetime="2025-\d\d-\d\d">'
                     r'\d{1,2} [A-Z][a-z]{2} 2025</time>', page)


def test_a_query_answer_names_publishers_and_shows_pounds_once(site):
    page = get(site, "/moneytrail/top_suppliers?publisher=northmoor").text
    assert '<th class="col-total_pence" scope="col" title="total_pence">Total</th>' in page
    assert "col-total_pounds" not in page
    assert '<a href="/publisher/northmoor-borough-council">Northmoor Borough Council</a>' in page


def test_facets_are_headed_in_words(site):
    page = get(site, "/moneytrail/payments?_size=0").text
    assert "<strong>Expense type" in page and "(summary)" not in page
