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
