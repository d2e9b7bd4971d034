"""Money strings as publishers write them, parsed to exact integer pence."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.money import parse_pence, pence_to_pounds, pence_to_text


@pytest.mark.parametrize(
    "text, pence",
    [
        ("1234.50", 123450),
        ("£1,234.50", 123450),
        ("£25,000.00 ", 2500000),  # trailing space (MoJ)
        (" 52,576,120.00 ", 5257612000),  # padded and quoted (DCMS)
        ("\u00a01,150.00\u00a0", 115000),  # NBSP padding (Leeds)
        (" £51,712.94 ", 5171294),  # cp1252 pound sign, padded (GTCE)
        ("-£81,770.30", -8177030),  # sign before the pound sign (MoJ)
        ("(12.00)", -1200),  # accountants' brackets
        ("165,547.00-", -16554700),  # trailing minus (Hyndburn)
        ("393.39-", -39339),
        ("+12.5", 1250),
        (".5", 50),
        ("1000", 100000),
        ("0", 0),
        ("0.00", 0),
        ("67941.2", 6794120),  # one decimal place (HM Treasury)
        ("653.625", 65363),  # a real half-penny (Devon 2010), rounded half up
        ("-653.625", -65363),
        ("815.3600000000006", 81536),  # float residue from a workbook
        ("2172.0699999999997", 217207),  # Lancashire PCC float artefact
        ("2.3E-10", 0),  # scientific notation from a numeric cell
        ("-4.5e-13", 0),
        ("66158.388", 6615839),  # Home Office sub-penny
        ("999999999999999.99", 99999999999999999),
        ("$5,531,458.39 ", 553145839),  # a system export's dollar sign for pounds (MoJ ARAMIS)
        ("$22.25 ", 2225),
        ("-$12.00", -1200),
        ("GBP 1,234.50", 123450),  # a currency code before or after
        ("1234.50 GBP", 123450),
        ("1,234.50 CR", -123450),  # an accountant's credit
        ("Â£1,234.50", 123450),  # a UTF-8 pound sign read as cp1252 before publication
    ],
)
def test_money_parses_to_pence(text, pence):
    parsed = parse_pence(pd.Series([text], dtype="string"))
    assert bool(parsed.ok.iloc[0])
    assert parsed.pence.iloc[0] == pence


@pytest.mark.parametrize(
    "text", ["#REF!", "abc", "12.34.56", "1,2a", "--5", "£", "1e", "N/A", "1 000 000 0000000000000"]
)
def test_money_that_is_not_money_is_an_error_not_zero(text):
    parsed = parse_pence(pd.Series([text], dtype="string"))
    assert not bool(parsed.ok.iloc[0])
    assert pd.isna(parsed.pence.iloc[0])


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_money_is_missing_not_wrong(text):
    parsed = parse_pence(pd.Series([text], dtype="string"))
    assert bool(parsed.ok.iloc[0])
    assert pd.isna(parsed.pence.iloc[0])


@pytest.mark.parametrize(
    "text, non_standard, rounded",
    [("-1234.50", False, False), ("£1,234.50", True, False), ("(5)", True, False),
     ("5-", True, False), ("1.005", False, True), ("1.0050", False, True), ("1.00", False, False)],
)
def test_money_flags_what_the_code_asks_publishers_to_avoid(text, non_standard, rounded):
    parsed = parse_pence(pd.Series([text], dtype="string"))
    assert bool(parsed.non_standard.iloc[0]) is non_standard
    assert bool(parsed.rounded.iloc[0]) is rounded


def test_parsing_never_produces_floats():
    parsed = parse_pence(pd.Series(["1.10", "2.20", None], dtype="string"))
    assert str(parsed.pence.dtype) == "Int64"
    assert parsed.pence.sum() == 330


@pytest.mark.parametrize(
    "pence, text, pounds",
    [(123456, "1234.56", "£1,234.56"), (-5, "-0.05", "-£0.05"), (0, "0.00", "£0.00")],
)
def test_pence_render_back(pence, text, pounds):
    assert pence_to_text(pence) == text
    assert pence_to_pounds(pence) == pounds


@pytest.mark.parametrize("text", ["£1,234.50", "1,234.50", "-£1,234.50", "£-1,234.50",
                                  "1,,234.50", "£1234.50", "1234.50", "(1,234.50)", "1234.50-"])
def test_the_fast_paths_agree_with_the_general_rules(text):
    """Amounts written plainly, or with only £ and commas, skip the general rules: they give
    the same pence and flags as the general rules do."""
    from schemas.money import _general, _parse

    assert _parse(text) == _general(text)


@given(st.text(alphabet="0123456789.,£-()+ ", min_size=1, max_size=14))
def test_the_fast_paths_never_disagree_with_the_general_rules(text):
    from schemas.money import _general, _parse

    if text.strip():
        assert _parse(text) == _general(text.strip())


_MONEY_LIKE = st.one_of(
    st.none(), st.text(alphabet="0123456789.,£-()+ \u00a0\t\n\ve", max_size=12),
    st.from_regex(r"-?£?[0-9,]{1,19}\.[0-9]{1,3}", fullmatch=True))


@given(st.lists(_MONEY_LIKE, min_size=1, max_size=30))
def test_a_column_parsed_by_arrow_kernels_is_parsed_as_cell_by_cell(cells):
    """Arrow strings take the column-at-a-time path; pandas' Python strings parse each text."""
    arrow = parse_pence(pd.Series(cells, dtype=pd.StringDtype("pyarrow")))
    each = parse_pence(pd.Series(cells, dtype=pd.StringDtype("python")))
    pd.testing.assert_series_equal(arrow.pence, each.pence)
    for flags in ("ok", "rounded", "non_standard"):
        assert getattr(arrow, flags).tolist() == getattr(each, flags).tolist(), flags
