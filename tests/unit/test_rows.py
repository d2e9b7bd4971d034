"""Rows that are not payments: blank, repeated headers, totals, footnotes; and fused cells."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.rows import classify, clean, repair_fused

HEADER = ["Body", "Supplier Name", "Payment Date", "Amount", "Purpose"]
FIELDS = {"OrganisationLabel": 0, "BeneficiaryName": 1, "PaymentDate": 2, "Amount": 3,
          "Purpose": 4}


@pytest.mark.parametrize(
    "cells, reason",
    [
        (["Leeds", "ACME LTD", "01/04/2024", "100.00", "Stationery"], ""),
        (["", "", "", "", ""], "blank"),
        ([",", "\u00a0", "  ", "", ""], "not_data"),  # a comma is content, not padding
        (["\u2020\u2020\u2020", "\u00a0", "", "", ""], "blank"),  # Lambeth dagger padding
        (HEADER, "repeated_header"),
        (["Total", "\u2020\u2020", "", "40292334.84", ""], "totals"),  # Lambeth
        (["", "Grand Total", "", "466637597.63", ""], "totals"),  # Network Rail
        (["", "", "", "726,583.94", ""], "totals"),  # Craven: no label at all
        (["", "VARIOUS - TOTAL EXPENSES", "", "12.00", ""], ""),  # a payee (Leeds)
        (["", "TOTAL INSIGNIA LTD", "01/04/2024", "9.00", ""], ""),  # a real company
        (["", "", "", "5.00", "TOTAL FM CONTRACT"], ""),  # an expense area (Cabinet Office)
        (["NOTE: GTCE is not VAT registered", "", "", "", ""], "not_data"),  # footnote
        (["", "", "", "", "xxx"], "not_data"),  # placeholder (Oxford 2014)
        (["Leeds", "ACME", "", "#REF!", ""], ""),  # broken, but a payment row: kept
    ],
)
def test_row_classification(cells, reason):
    frame = clean(pd.DataFrame([cells], dtype=object))
    assert classify(frame, HEADER, FIELDS).iloc[0] == reason


@pytest.mark.parametrize(
    "cells, repaired",
    [
        (["Lambeth", "A A GuestHouses", "25/06/2012900", "CARE"],
         ["Lambeth", "A A GuestHouses", "25/06/2012", "900", "CARE"]),
        (["Lambeth", "Catch2212/06/2012", "8755.20", "HOUSING"],
         ["Lambeth", "Catch22", "12/06/2012", "8755.20", "HOUSING"]),
    ],
)
def test_a_date_fused_to_its_neighbour_is_split_back_out(cells, repaired):
    assert repair_fused(cells, 5) == (repaired, True)


def test_three_cells_fused_into_one_are_split():
    cells = ["Lambeth", "Inter High Education/Academy2129/05/2012740", "FEES"]
    assert repair_fused(cells, 5) == (
        ["Lambeth", "Inter High Education/Academy21", "29/05/2012", "740", "FEES"], True)


@pytest.mark.parametrize(
    "cells",
    [
        ["a", "Monthly charges from 31/01/2012 to 13/04/2012.", "c"],  # prose (MoJ)
        ["a", "from 31/03/2012 to", "c"],
        ["a", "b", "c", "d", "e"],  # full width: never touched
        ["a", "25/06/2012900", "01/01/2012x"],  # two candidates: ambiguous, left alone
    ],
)
def test_rows_that_merely_mention_dates_are_not_repaired(cells):
    assert repair_fused(cells, 5) == (cells, False)


@given(st.integers(1, 6).flatmap(lambda width: st.tuples(
    st.just(width),
    st.lists(st.lists(st.sampled_from(["", "a", "#", "#REF!", "x#y", "\x1f", "b\x1f#", " # "]),
                      min_size=width, max_size=width), min_size=1, max_size=8))))
def test_the_columns_a_hash_is_in_are_found_in_one_pass(case):
    from sources.rows import BLANK_CHARS, Cells

    width, rows = case
    cells = Cells(rows, width)
    assert cells.hash_columns() == {
        j for j in range(width) if any("#" in row[j].strip(BLANK_CHARS) for row in rows)}


@given(st.lists(st.lists(st.sampled_from(["", "Body", "Supplier Name", "x", "Amount"]),
                         min_size=5, max_size=5), min_size=1, max_size=10),
       st.lists(st.integers(0, 9), max_size=4))
def test_a_repeated_header_is_found_wherever_it_is_and_only_there(rows, copies):
    import numpy as np

    from sources.rows import Cells, classify_matrix

    for at in copies:
        rows.insert(min(at, len(rows)), list(HEADER))
    reasons = classify_matrix(Cells(rows, len(HEADER)), HEADER, FIELDS)
    full_copy = (np.array(rows, dtype=object) == np.array(HEADER, dtype=object)).all(axis=1)
    assert ((reasons == "repeated_header") == full_copy).all()


@given(st.lists(st.lists(st.sampled_from(["", " ", "a", " b\u00a0", "\u2020", "\ufeffc ", "é\t"]),
                         min_size=0, max_size=4), min_size=1, max_size=6))
def test_a_chunk_s_cells_are_its_rows_stripped_and_padded(rows):
    """Cells strips what str.strip(BLANK_CHARS) strips, pads short rows, and nulls empties."""
    from sources.rows import BLANK_CHARS, Cells

    width = max(1, *map(len, rows))
    cells = Cells(rows, width)
    expected = [[c.strip(BLANK_CHARS) for c in row] + [""] * (width - len(row)) for row in rows]
    assert [cells.row(r) for r in range(len(rows))] == expected
    assert cells.nonblank.tolist() == [[c != "" for c in row] for row in expected]
    for j in range(width):
        assert cells.column(j).to_pylist() == [row[j] or None for row in expected]
