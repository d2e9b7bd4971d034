"""Redaction markers seen in real files, normalised to a reason."""

import pandas as pd
import pytest

from schemas.redaction import redaction_reasons


@pytest.mark.parametrize(
    "payee, reason",
    [
        ("REDACTED PERSONAL DATA", "personal_data"),  # Leeds
        ("Redacted personal data", "personal_data"),  # Oxford
        ("REDACTED - Personal Information", "personal_data"),  # Gateshead
        ("REDACTED UNDER DP ACT", "personal_data"),  # Devon
        ("REDACTED COMMERCIAL CONFIDENTIALITY", "commercial_confidentiality"),  # Leeds
        ("*****************************", "other"),  # Craven
        ("Redacted Data", "other"),  # Salford
        ("Redacted", "other"),  # Trafford
        ("REDACTED", "other"),
        ("Withheld", "other"),
        ("REDACTIVE PUBLISHING LTD", None),  # a real company (Hyndburn)
        ("REDACTIVE MEDIA SALES LIMITED", None),
        ("MR J SMITH ****5215", None),  # a masked bank reference is not a redaction (Devon)
        ("THIRD PARTY", None),  # a pseudonym, counted apart in NOTES
        ("", None),
        (None, None),
    ],
)
def test_redaction_markers(payee, reason):
    result = redaction_reasons(pd.Series([payee], dtype="string")).iloc[0]
    assert (None if pd.isna(result) else result) == reason


def test_a_files_payees_are_decided_once_across_its_chunks():
    known: dict = {}
    first = redaction_reasons(pd.Series(["REDACTED", "ACME LTD", None], dtype="string"), known)
    assert set(known) == {"REDACTED", "ACME LTD"}
    known["ACME LTD"] = "other"  # a remembered decision is used, not decided again
    again = redaction_reasons(pd.Series(["ACME LTD", "Withheld", None], dtype="string"), known)
    assert first.tolist() == ["other", pd.NA, pd.NA]
    assert again.tolist() == ["other", "other", pd.NA] and "Withheld" in known
