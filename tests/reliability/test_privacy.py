"""Payments to private individuals: spotted, counted for the publisher, kept flagged in the
warehouse and withheld from the published site."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from schemas.privacy import REASONS, personal_reason, personal_reasons
from schemas.validate import report_file
from warehouse.accuracy import load_labels

pytestmark = pytest.mark.reliability


CASES = [
    # A title and a name.
    ("Mr J Smith", None, None, "title"),
    ("MRS A. JONES", None, None, "title"),
    ("Dr Patel", None, None, "title"),
    ("MISS H M FERNANDES", None, None, "title"),
    # The file says so.
    ("K Moore", "Individual", None, "type"),
    ("Kowalczyk Anna", "Sole Trader", None, "type"),
    # A category that pays people, and a payee that could be one.
    ("Adewunmi Oriolowo", None, "Direct Payments", "category"),
    ("The Boulters", None, "Fostering Allowances | Children's Services", "category"),
    ("P Nowak", None, "Personal Budget", "category"),
    # Shaped like a person's name: a forename or initials, then a surname.
    ("JOHN SMITH", None, None, "name"),
    ("Smith, John", None, None, "name"),
    ("J.A. Smith", None, None, "name"),
    ("P H JONES", None, None, "name"),
    ("Mary-Jane O'Neill", None, None, "name"),
    # Organisations, whatever the category.
    ("Acme Ltd", None, "Direct Payments", None),
    ("Greater London Fostering", None, "Fostering Allowances", None),
    ("Amazon", None, "Direct Payments", None),
    ("Pinsent Masons", None, None, None),
    ("Thames Water", None, None, None),
    ("BT Openreach", None, None, None),
    ("HM TREASURY", None, None, None),
    ("Victoria House", None, None, None),
    ("Henry Hyams Solicitors", None, None, None),
    ("Tesco Stores 2187", None, None, None),
    # Already withheld: a redaction marker is not a name.
    ("REDACTED", None, "Direct Payments", None),
    ("Personal Data", "Individual", None, None),
    ("", None, None, None),
]


@pytest.mark.parametrize("payee, beneficiary_type, context, reason", CASES)
def test_personal_payees_are_recognised(payee, beneficiary_type, context, reason):
    assert personal_reason(payee, beneficiary_type, context) == reason
    assert reason is None or reason in REASONS


def test_a_chunk_is_decided_as_each_of_its_rows_would_be():
    """personal_reasons decides a chunk per distinct value, with its category text in several
    columns and decisions kept from chunk to chunk: row by row, personal_reason's answers."""
    cases = [(payee, kind, (context or "").split(" | "))
             for payee, kind, context, _ in CASES]
    width = max(len(parts) for _, _, parts in cases)
    frame = pd.DataFrame({
        "payee": pd.array([p or None for p, _, _ in cases], dtype="string"),
        "type": pd.array([k for _, k, _ in cases], dtype="string"),
        **{f"context {i}": pd.array([(parts + [None] * width)[i] or None
                                     for _, _, parts in cases], dtype="string")
           for i in range(width)},
    })
    expected = [personal_reason(p, k, c) for p, k, c, _ in CASES]
    known: dict = {}
    for _ in range(2):  # the second time, every decision comes from `known`
        found = personal_reasons(frame["payee"], frame["type"],
                                 [frame[f"context {i}"] for i in range(width)], known)
        assert [None if pd.isna(r) else r for r in found] == expected
    assert known["category"] and known["name"]


def test_real_company_and_charity_names_are_not_taken_for_people():
    """False positives, measured on the 719 labelled real payee spellings of the corpus, all of
    them organisations (companies, charities, public bodies): none may be flagged."""
    organisations = [label.spelling for label in load_labels()
                     if label.registry == "uk" and not label.redacted]
    assert len(organisations) > 700
    flagged = [name for name in organisations if personal_reason(name)]
    assert flagged == []


def test_validate_tells_the_publisher_how_many_and_where_but_not_who(tmp_path: Path):
    path = tmp_path / "spend.csv"
    path.write_text(
        "Organisation Name,Payment Date,Supplier Name,Amount,Expense Type\n"
        "Testshire Council,01/04/2024,Mr J Smith,600.00,Direct Payments\n"
        "Testshire Council,02/04/2024,Acme Ltd,700.00,Supplies\n"
        "Testshire Council,03/04/2024,JANE HIRST,800.00,Fees\n", encoding="utf-8")
    report = report_file(path).to_json()
    assert report["personal_rows"] == 2
    assert report["personal"] == {"title": 1, "name": 1}
    assert report["personal_examples"] == [{"sheet": None, "row": 2, "reason": "title"},
                                           {"sheet": None, "row": 4, "reason": "name"}]
    assert "Smith" not in json.dumps(report["personal_examples"])


def test_a_quarantined_row_naming_a_person_is_flagged_and_kept_off_the_site(tmp_path: Path):
    import sqlite3
    from contextlib import closing

    from sources.registry import Publisher
    from warehouse.engine import connect
    from warehouse.load import load_file, upsert_publisher
    from warehouse.site import build_site

    path = tmp_path / "spend.csv"
    path.write_text(
        "Organisation Name,Payment Date,Supplier Name,Amount,Expense Type\n"
        "Testshire Council,01/04/2024,Mrs Q Pennyworth,six hundred,Direct Payments\n"
        "Testshire Council,02/04/2024,Acme Ltd,700.00,Supplies\n", encoding="utf-8")
    engine = connect(f"sqlite:///{tmp_path / 'warehouse.db'}")
    publisher = Publisher("testshire", "GB-LAE-TST", "Testshire Council", "council")
    upsert_publisher(engine, publisher)
    outcome = load_file(engine, publisher, "http://example.invalid/spend.csv", path)
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (1, 1)
    with engine.connect() as conn:
        kept = conn.exec_driver_sql("select personal_data, mapped from quarantine").one()
    assert kept[0] == "title" and "Pennyworth" in kept[1]  # the private warehouse keeps it

    build_site(engine, tmp_path / "site")
    engine.dispose()
    for db_path in (tmp_path / "site").glob("*.db"):
        with closing(sqlite3.connect(db_path)) as db:
            shown = db.execute("select personal_data, mapped, extra, reasons from quarantine"
                               ).fetchall()
        assert shown and all(row[:3] == ("title", None, None) for row in shown), db_path
        assert all("Pennyworth" not in (row[3] or "") for row in shown)
