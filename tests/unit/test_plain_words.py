"""What the site's pages say in words (datasette/plugins/moneytrail_site.py): dates, statuses
and problems, as people read them."""

import importlib.util

import pytest

from warehouse.serving import CONFIG_DIR

# The plugin is a file in Datasette's configuration folder, never a package: load it as one.
_spec = importlib.util.spec_from_file_location("moneytrail_site",
                                               CONFIG_DIR / "plugins" / "moneytrail_site.py")
site_plugin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(site_plugin)


@pytest.mark.parametrize(("value", "words"), [
    ("2025-04-01", "1 Apr 2025"), ("2025-12-31", "31 Dec 2025"), ("2025-04", "Apr 2025"),
    ("2026-12-07T15:14:43+00:00", "7 Dec 2026"), ("", ""), (None, ""),
    ("2025-00-01", "2025-00-01"), ("2025-13", "2025-13"), ("2025", "2025"), ("soon", "soon"),
])
def test_dates_read_as_people_write_them_and_anything_else_as_given(value, words):
    assert site_plugin.human_date(value) == words


def test_a_problem_names_files_not_addresses():
    said = site_plugin.plain_message(
        "http://127.0.0.1:8750/trust/docs/FLT-2025-26.xlsx: an HTML page was served where a "
        "spreadsheet was expected; https://example.org/a/b.csv?x=1: HTTP 404")
    assert said == ("file FLT-2025-26.xlsx: an HTML page was served where a spreadsheet was "
                    "expected; file b.csv: HTTP 404")
    assert site_plugin.plain_status("error") == "Problem with its files"
    assert site_plugin.plain_status("ok") == "Up to date"
    assert site_plugin.plain_status("no_feeds") == "No files listed yet"


@pytest.mark.parametrize(("column", "heading"), [
    ("amount_pence", "Amount"), ("total_pence", "Total"), ("per_resident_pence", "Per resident"),
    ("publisher_id", "Publisher"), ("payee_publisher_id", "Payee publishes here"),
    ("beneficiary_name", "Payee"), ("payment_date", "Payment date"), ("source_row", "Row in file"),
    ("rows_quarantined", "Rows quarantined"), ("supplier_key", "Supplier id"), ("month", "Month"),
])
def test_columns_are_headed_in_words(column, heading):
    assert site_plugin.column_label(column) == heading


@pytest.mark.parametrize(("datasette_said", "words"), [
    ("sorted by amount_pence descending", "sorted by amount, largest first"),
    ("sorted by payment_date", "sorted by payment date, earliest first"),
    ('where publisher_id = "fellbrook-council" sorted by month descending',
     'where publisher = "fellbrook-council" sorted by month, latest first'),
    ('where search matches "fish and chips" sorted by beneficiary_name',
     'where search matches "fish and chips" sorted by payee, A to Z'),
    ("", ""),
])
def test_a_tables_description_uses_its_headings(datasette_said, words):
    assert site_plugin.plain_description(datasette_said) == words


def test_an_amount_is_shown_once_where_its_pounds_column_is_there_too():
    columns = ["amount_pence", "amount_pounds", "total_pounds", "payee"]
    assert site_plugin.pounds_twins(columns) == {"amount_pounds"}
    assert site_plugin.pounds_twins([{"name": n} for n in columns]) == {"amount_pounds"}


def test_a_compound_keys_link_reads_as_a_word():
    link = '<a href="/moneytrail/spend_by_supplier/a,MT-b">a,MT-b</a>'
    assert site_plugin.link_text(link, "details") == \
        '<a href="/moneytrail/spend_by_supplier/a,MT-b">details</a>'
