"""Tests that the generated schema docs in docs/schemas/ match the schemas they describe."""

import pytest

from schemas import docs
from schemas.descriptors import SCHEMA_NAMES

STALE = "is out of date: run `python -m schemas.docs`"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_committed_schema_page_matches_schema(name):
    committed = (docs.DOCS_DIR / f"{name}.md").read_text(encoding="utf-8")
    assert committed == docs.render(name), f"docs/schemas/{name}.md {STALE}"


def test_committed_index_matches_schemas():
    committed = (docs.DOCS_DIR / "README.md").read_text(encoding="utf-8")
    assert committed == docs.render_index(), f"docs/schemas/README.md {STALE}"


def test_pipes_in_cells_are_escaped():
    assert "`^[0-9]{6,8}(?:-[0-9]{1,2})?$\\|^SC[0-9]{6}$`" in docs.render("spend")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "spend",
            "| `PaymentDate` | Payment date | date (`%d/%m/%Y`) | yes; Code: mandatory |  "
            "| `24/06/2020` |",
        ),
        (
            "grant",
            "| `RecipientOrgName` | Recipient organisation name | `Recipient Org:Name` | string "
            "| yes |",
        ),
        (
            "payment",
            "| `amount_pence` | Net amount (pence) | `Amount` | integer | yes |  | `540000` |",
        ),
        ("payment", "| `extra` | Unmapped columns | none | string | no |"),
    ],
)
def test_field_rows(name, expected):
    assert expected in docs.render(name)


@pytest.mark.parametrize(
    ("name", "heading"),
    [
        ("grant", "| field | title | 360Giving | type | required | constraints | example |"),
        ("payment", "| field | title | from | type | required | constraints | example |"),
        ("spend", "| field | title | type | required | constraints | example | description |"),
    ],
)
def test_field_table_headings(name, heading):
    assert heading in docs.render(name)


@pytest.mark.parametrize(
    ("name", "has_requirements"),
    [("spend", True), ("purchase-card", True), ("contract", True), ("grant", False)],
)
def test_requirements_section_only_where_the_code_sets_requirements(name, has_requirements):
    assert ("## Transparency Code requirements" in docs.render(name)) == has_requirements


def test_index_links_every_schema_and_explains_validation():
    index = docs.render_index()
    for name in SCHEMA_NAMES:
        assert f"[{name}]({name}.md)" in index
    assert "frictionless validate --schema schemas/spend.json yourfile.csv" in index
    assert "moneytrail validate yourfile.csv --schema spend" in index


def test_check_names_stale_pages(tmp_path, capsys):
    assert docs.main(["--out-dir", str(tmp_path)]) == 0
    assert docs.main(["--check", "--out-dir", str(tmp_path)]) == 0
    (tmp_path / "spend.md").write_text("# old\n", encoding="utf-8")
    (tmp_path / "README.md").unlink()

    assert docs.main(["--check", "--out-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path / 'spend.md'} {STALE}\n{tmp_path / 'README.md'} {STALE}\n"
    )
