"""The UK publisher registry: its data checked against the reference lists, and its loader's errors.

The reference data (mySociety council codes, the org-id.guide lists, the NHS ODS trust list) lives
beside the repository in ../shared/reference; the checks that need it skip when it is absent.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from sources.registry import (
    FEED_KINDS,
    UK_REGISTRY,
    RegistryError,
    load_registry,
    publisher_quirks,
)

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
MYSOCIETY = REFERENCE / "mysociety-uk-la-codes" / "uk_local_authorities_current.csv"
ORG_ID_LISTS = REFERENCE / "standards" / "org-id"
NHS_TRUSTS = REFERENCE / "jhau-nhs-spend" / "etr.csv"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"the reference data is not at {path} (it lives in ../shared/reference)")
    return path


# Bodies that no org-id list covers get a provisional project-assigned id (docs/registry.md).
PROVISIONAL = {
    "brimhams-active",
    "cheltenham-borough-homes",
    "lancashire-fire-rescue",
    "lancashire-pcc",
    "stockport-homes",
    "transport-for-london",
}


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def has_files(publisher) -> bool:
    return any(feed.urls or feed.url for feed in publisher.feeds)


# --- the UK registry -------------------------------------------------------------------------


def test_every_uk_registry_entry_is_valid(registry):
    assert dict(registry.invalid) == {}


def test_the_uk_registry_has_at_least_45_publishers_with_files(registry):
    assert len([p for p in registry if has_files(p)]) >= 45


def test_at_least_five_publishers_with_files_are_not_councils(registry):
    others = {p.id for p in registry if has_files(p) and p.kind != "council"}
    assert len(others) >= 5
    assert {"lancashire-fire-rescue", "lancashire-pcc", "transport-for-london",
            "network-rail", "cabinet-office"} <= others


def test_every_feed_url_is_http(registry):
    for publisher in registry:
        for feed in publisher.feeds:
            assert feed.kind in FEED_KINDS
            for url in (*feed.urls, *([feed.url] if feed.url else [])):
                assert url.startswith(("http://", "https://")), (publisher.id, url)
                assert " " not in url, (publisher.id, url)


def test_ids_and_org_ids_are_unique():
    # Read the raw file: the loader would stop at the first repeat rather than list them.
    entries = yaml.safe_load(UK_REGISTRY.read_text(encoding="utf-8"))["publishers"]
    ids = [entry["id"] for entry in entries]
    org_ids = [entry["org_id"] for entry in entries]
    assert len(ids) == len(set(ids))
    assert len(org_ids) == len(set(org_ids))


def test_every_entry_names_where_its_urls_came_from():
    entries = yaml.safe_load(UK_REGISTRY.read_text(encoding="utf-8"))["publishers"]
    assert all(str(entry.get("source", "")).strip() for entry in entries)


@pytest.mark.parametrize(
    ("publisher_id", "org_id", "kind", "feed_kinds"),
    [
        ("leeds-city-council", "GB-LAE-LDS", "council", ["ckan"]),
        ("devon-county-council", "GB-LAE-DEV", "council", ["urls"]),
        ("hyndburn-borough-council", "GB-LAE-HYN", "council", ["index"]),
        ("calderdale-metropolitan-borough-council", "GB-LAE-CLD", "council", ["urls", "urls"]),
        ("craven-district-council", "GB-LAE-CRA", "council", []),
        ("greater-london-authority", "GB-LAE-GLA", "combined_authority", ["urls", "urls"]),
        ("lancashire-fire-rescue", "XX-MTRAIL-lancashire-fire-rescue", "fire", ["index"]),
        ("lancashire-pcc", "XX-MTRAIL-lancashire-pcc", "police", ["index"]),
        ("transport-for-london", "XX-MTRAIL-transport-for-london", "transport", ["urls"]),
        ("network-rail", "GB-COH-04402220", "transport", ["urls"]),
        ("university-hospitals-plymouth-nhs-trust", "GB-NHS-RK9", "nhs", ["urls"]),
        ("bolton-at-home", "GB-SHPE-4568", "housing", ["index"]),
        ("stockport-homes", "XX-MTRAIL-stockport-homes", "almo", ["index"]),
        ("cabinet-office", "GB-GOR-D2", "central_government", ["urls"]),
        ("dcms", "GB-GOR-D5", "central_government", ["urls"]),
        ("hm-treasury", "GB-GOR-D15", "central_government", ["urls"]),
        ("ministry-of-defence", "GB-GOR-D17", "central_government", ["urls", "urls"]),
        ("marine-management-organisation", "GB-GOR-PB57", "central_government", ["urls"]),
        ("partnerships-for-schools", "GB-COH-04650964", "central_government", ["urls"]),
    ],
)
def test_key_publishers(registry, publisher_id, org_id, kind, feed_kinds):
    publisher = registry[publisher_id]
    assert (publisher.org_id, publisher.kind) == (org_id, kind)
    assert [feed.kind for feed in publisher.feeds] == feed_kinds


@pytest.mark.parametrize(
    ("publisher_id", "schemas"),
    [
        ("calderdale-metropolitan-borough-council", ["spend", "purchase-card"]),
        ("north-tyneside-council", ["spend", "purchase-card"]),
        ("ministry-of-defence", ["spend", "purchase-card"]),
        ("wales-office", ["spend", "purchase-card"]),
        ("leeds-city-council", ["spend"]),
    ],
)
def test_purchase_card_files_have_their_own_feed(registry, publisher_id, schemas):
    assert [feed.schema for feed in registry[publisher_id].feeds] == schemas


# --- against the reference data --------------------------------------------------------------


def test_council_codes_and_figures_match_mysociety(registry):
    with need(MYSOCIETY).open(encoding="utf-8") as rows:
        by_code = {row["local-authority-code"]: row for row in csv.DictReader(rows)}
    councils = [p for p in registry if p.org_id.startswith("GB-LAE-")]
    assert {p.id for p in registry if p.kind == "council"} <= {p.id for p in councils}
    for publisher in councils:
        row = by_code[publisher.org_id.removeprefix("GB-LAE-")]
        assert publisher.name == row["official-name"], publisher.id
        assert publisher.gss_code == row["gss-code"], publisher.id
        assert publisher.population == int(float(row["pop-2020"])), publisher.id


def test_org_id_schemes_are_in_the_org_id_lists(registry):
    schemes = {json.loads(path.read_text(encoding="utf-8"))["code"]
               for path in need(ORG_ID_LISTS).glob("gb-*.json")}
    for publisher in registry:
        scheme = "-".join(publisher.org_id.split("-")[:2])
        if publisher.id in PROVISIONAL:
            assert publisher.org_id == f"XX-MTRAIL-{publisher.id}"
        else:
            assert scheme in schemes, (publisher.id, publisher.org_id)


def test_only_the_documented_bodies_have_provisional_org_ids(registry):
    assert {p.id for p in registry if p.org_id.startswith("XX-")} == PROVISIONAL


def test_nhs_org_ids_are_ods_trust_codes(registry):
    with need(NHS_TRUSTS).open(encoding="utf-8") as rows:
        trusts = {row[0]: row[1] for row in csv.reader(rows)}
    nhs = [p for p in registry if p.kind == "nhs"]
    assert nhs
    for publisher in nhs:
        code = publisher.org_id.removeprefix("GB-NHS-")
        assert trusts[code].lower() == publisher.name.lower()


def test_every_corpus_publisher_is_in_the_registry(registry, corpus):
    folders = {p.name for p in (corpus / "files").iterdir() if p.is_dir()}
    folders.discard("openlylocal-test-fixtures")
    assert len(folders) == 27
    assert folders <= set(registry.publishers)


# --- commissioning and quirks ----------------------------------------------------------------


def test_commissioners_resolve(registry):
    for publisher in registry:
        for commissioner in publisher.commissioners:
            assert commissioner in registry.publishers, (publisher.id, commissioner)
            assert commissioner != publisher.id


@pytest.mark.parametrize(
    ("provider", "commissioner"),
    [
        ("stockport-homes", "stockport-metropolitan-borough-council"),
        ("cheltenham-borough-homes", "cheltenham-borough-council"),
        ("brimhams-active", "harrogate-borough-council"),
        ("transport-for-london", "greater-london-authority"),
        ("marine-management-organisation", "department-for-environment-food-and-rural-affairs"),
        ("school-food-trust", "department-for-education"),
    ],
)
def test_who_commissions_whom(registry, provider, commissioner):
    assert registry[provider].commissioners == (commissioner,)


@pytest.mark.parametrize("publisher_id", ["lancashire-fire-rescue", "lancashire-pcc"])
def test_fire_and_police_are_not_commissioned_by_councils(registry, publisher_id):
    assert registry[publisher_id].commissioners == ()


def test_devon_quirks_come_from_the_registry():
    quirks = publisher_quirks("devon-county-council")
    assert quirks.header_overrides["Entity"] == "BeneficiaryOtherID"
    assert quirks.header_overrides["Description"] == "OrganisationalUnit"
    assert publisher_quirks("no-such-publisher").header_overrides == {}


def test_lancashire_fires_supplier_classification_is_what_a_payment_was_for(corpus):
    """Its 'Supplier Classification' holds 'Protective Clothing', not a kind of supplier."""
    from schemas.validate import report_file

    path = corpus / "files" / "lancashire-fire-rescue" / "fire-2023-24.xlsx"
    report = report_file(path, "spend", "lancashire-fire-rescue").to_json()
    fields = {c["header"]: c["field"] for c in report["columns"]}
    assert fields["Supplier Classification"] == "ExpenseType"
    assert fields["Expenditure Category"] == "CategoryInternalName"


# --- loader errors ---------------------------------------------------------------------------

LEEDS = {"id": "leeds-city-council", "org_id": "GB-LAE-LDS", "name": "Leeds", "kind": "council"}


def leeds(**changes):
    return {**LEEDS, **changes}


YORK = {"id": "york-council", "org_id": "GB-LAE-YOR", "name": "York", "kind": "council"}
KINDS = ("council, combined_authority, fire, police, nhs, housing, almo, leisure_trust, "
         "academy_trust, care_provider, central_government, transport, other")
SLUG_RULE = ("is not a lower-case slug (letters a-z, digits and hyphens, starting with a letter "
             "or digit)")


def write_registry(tmp_path, publishers, **top) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump({**top, "publishers": publishers}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entry", "key", "reason"),
    [
        pytest.param(leeds(org_id="LDS"), "leeds-city-council",
                     "org_id 'LDS' is not an org-id such as GB-LAE-LDS", id="bad-org-id"),
        pytest.param(leeds(kind="parish"), "leeds-city-council",
                     f"kind 'parish' is not one of {KINDS}", id="unknown-kind"),
        pytest.param(leeds(feeds=[{"kind": "ftp", "url": "https://example.org/"}]),
                     "leeds-city-council",
                     "feeds[0]: feed kind 'ftp' is not one of urls, index, ckan",
                     id="unknown-feed-kind"),
        pytest.param(leeds(feeds=[{"kind": "index", "url": "https://example.org/spend"}]),
                     "leeds-city-council", "feeds[0]: a index feed needs url and pattern",
                     id="index-without-pattern"),
        pytest.param(leeds(feeds=[{"kind": "urls", "urls": ["file:///etc/passwd"]}]),
                     "leeds-city-council", "feeds[0]: URL 'file:///etc/passwd' is not http(s)",
                     id="file-url"),
        pytest.param(leeds(feeds=[{"kind": "urls", "urls": ["https://example.org/a.csv"]},
                                  {"kind": "urls", "urls": ["ftp://example.org/b.csv"]}]),
                     "leeds-city-council", "feeds[1]: URL 'ftp://example.org/b.csv' is not http(s)",
                     id="second-feed-ftp-url"),
        pytest.param(leeds(commissioners=["nobody-council"]), "leeds-city-council",
                     "commissioners: 'nobody-council' is not in the registry",
                     id="unknown-commissioner"),
        pytest.param(leeds(quirks={"date_order": "YMD"}), "leeds-city-council",
                     "quirks.date_order must be one of ('DMY', 'MDY')", id="bad-date-order"),
        pytest.param(leeds(quirks={"columns": {"B": "Amount"}}), "leeds-city-council",
                     "quirks.columns maps column numbers (from 1) to fields", id="bad-columns"),
        pytest.param(leeds(population="many"), "leeds-city-council",
                     "population: 'many' is not a whole number", id="bad-population"),
        pytest.param(leeds(population=800000, population_year="soon"), "leeds-city-council",
                     "population_year: 'soon' is not a year such as 2020",
                     id="non-year-population-year"),
        pytest.param(leeds(id="Leeds City"), "publishers[1]",
                     f"id: publisher id 'Leeds City' {SLUG_RULE}, such as 'leeds-city'",
                     id="bad-id-by-position"),
        pytest.param({"org_id": "GB-LAE-LDS", "kind": "council"}, "publishers[1]",
                     f"id: publisher id '' {SLUG_RULE}", id="no-id-by-position"),
        pytest.param("leeds-city-council", "publishers[1]",
                     "the entry is not a mapping of fields: 'leeds-city-council'",
                     id="entry-not-a-mapping"),
    ],
)
def test_an_invalid_entry_fails_alone_with_the_field_named(tmp_path, entry, key, reason):
    registry = load_registry(write_registry(tmp_path, [YORK, entry]))
    assert [p.id for p in registry] == ["york-council"]
    assert dict(registry.invalid) == {key: reason}


def test_an_invalid_entry_is_refused_by_id_and_selected_apart(tmp_path):
    bad = leeds(feeds=[{"kind": "urls", "urls": ["file:///etc/passwd"]}])
    registry = load_registry(write_registry(tmp_path, [YORK, bad, leeds(id="Bad Id")]))
    with pytest.raises(RegistryError) as error:
        registry["leeds-city-council"]
    assert str(error.value) == (f"{tmp_path / 'registry.yaml'}: leeds-city-council: "
                                "feeds[0]: URL 'file:///etc/passwd' is not http(s)")
    assert registry.partition_ids() == ["york-council", "leeds-city-council"]
    assert registry.select(None) == ([registry["york-council"]], dict(registry.invalid))
    assert registry.select(["leeds-city-council"]) == (
        [], {"leeds-city-council": "feeds[0]: URL 'file:///etc/passwd' is not http(s)"})


def test_a_publisher_commissioned_by_an_invalid_entry_still_loads(tmp_path):
    provider = {**YORK, "commissioners": ["leeds-city-council"]}
    registry = load_registry(write_registry(tmp_path, [leeds(kind="parish"), provider]))
    assert registry["york-council"].commissioners == ("leeds-city-council",)
    assert list(registry.invalid) == ["leeds-city-council"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(yaml.safe_dump({"publishers": [LEEDS, YORK, LEEDS]}),
                     "publisher 'leeds-city-council' is listed twice", id="duplicate-id"),
        pytest.param(yaml.safe_dump({"publishers": [LEEDS, leeds(kind="parish")]}),
                     "publisher 'leeds-city-council' is listed twice",
                     id="duplicate-id-of-an-invalid-entry"),
        pytest.param("publishers:\n  - id: [unclosed\n", "not readable as YAML",
                     id="not-yaml"),
        pytest.param("- just a list\n", "expected a mapping with a `publishers:` list",
                     id="not-a-mapping"),
        pytest.param(yaml.safe_dump({"population_year": "2020", "publishers": [LEEDS]}),
                     "population_year: '2020' is not a year such as 2020",
                     id="top-level-population-year"),
    ],
)
def test_a_registry_that_cannot_be_read_fails_whole_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as error:
        load_registry(path)
    assert str(error.value).startswith(f"{path}: ")
    assert problem in str(error.value)


def test_a_small_valid_registry_loads(tmp_path):
    path = tmp_path / "registry.yaml"
    provider = {"id": "leeds-homes", "org_id": "GB-COH-00000001", "name": "Homes", "kind": "almo",
                "commissioners": ["leeds-city-council"],
                "feeds": [{"kind": "index", "url": "https://example.org/spend",
                           "pattern": r"\.csv$", "schema": "purchase-card"}]}
    path.write_text(yaml.safe_dump({"publishers": [LEEDS, provider]}), encoding="utf-8")
    registry = load_registry(path)
    assert [p.id for p in registry] == ["leeds-city-council", "leeds-homes"]
    assert registry["leeds-homes"].quirks.columns == {}
    assert registry["leeds-homes"].feeds[0].schema == "purchase-card"
    assert registry["leeds-homes"].commissioners == ("leeds-city-council",)
