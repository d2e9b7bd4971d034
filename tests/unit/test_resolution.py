"""Supplier resolution: one row per normalisation rule, id rule and matching decision."""

import pytest

from sources.registry import Feed, Publisher, Registry, load_registry
from warehouse.resolution import (
    PayeeRecord,
    Resolver,
    charity_org_id,
    company_org_id,
    name_id,
)
from warehouse.suppliers import payee_key


@pytest.mark.parametrize(
    "name, key",
    [
        ("ACME LTD", "acme"),
        ("Acme Limited", "acme"),
        ("acme ltd.", "acme"),
        ("The Acme Company Ltd", "acme"),
        ("ACME PLC", "acme"),
        ("Acme LLP", "acme"),
        ("Smith & Co", "smith"),
        ("Smith and Co Ltd", "smith"),
        ("Northmoor Leisure Trust (T/A Active Northmoor)", "northmoor leisure trust"),
        ("Northmoor Leisure Trust trading as Active Northmoor", "northmoor leisure trust"),
        ("NORTHMOOR LEISURE TRUST T/A ACTIVE NORTHMOOR", "northmoor leisure trust"),
        ("  Moorland   Energy-Supply Ltd  ", "moorland energy supply"),
        ("Café Nero Group Ltd", "cafe nero"),
        ("Neville´s Kitchen", "nevilles kitchen"),
        ("BARNARDO'S", "barnardos"),
        ("A D T FIRE & SECURITY", "adt fire security"),
        ("Dept for Work and Pensions", "department work pensions"),
        ("DEPARTMENT OF WORK & PENSIONS", "department work pensions"),
        ("Capita Business Servs", "capita business services"),
        ("Biffa Waste Services Limi", "biffa waste services"),
        ("LANCASTER CITY COUNCIL [17340]", "lancaster city council"),
        ("ROYAL MAIL GROUP LTD_****3201", "royal mail"),
        ("LANCASHIRE COUNTY COUNCIL (200398)", "lancashire county council"),
        ("", None),
        (None, None),
    ],
)
def test_normalisation_rules(name, key):
    assert payee_key(name) == key


@pytest.mark.parametrize(
    "number, org_id",
    [("1234567", "GB-COH-01234567"), ("01234567", "GB-COH-01234567"),
     (" 4402220 ", "GB-COH-04402220"), ("SC123456", "GB-COH-SC123456"),
     ("sc1234", "GB-COH-SC001234"), ("00000000", None),
     ("N/A", None), ("", None), (None, None), ("123456789", None)],
)
def test_company_numbers_become_zero_padded_org_ids(number, org_id):
    assert company_org_id(number) == org_id


@pytest.mark.parametrize(
    "number, org_id",
    [("1090095", "GB-CHC-1090095"), ("1090095-1", "GB-CHC-1090095"), ("220949", "GB-CHC-220949"),
     ("charity", None), ("", None)],
)
def test_charity_numbers_become_org_ids(number, org_id):
    assert charity_org_id(number) == org_id


REGISTRY = Registry({
    "testshire-county-council": Publisher("testshire-county-council", "GB-LAE-TST",
                                          "Testshire County Council", "council"),
    "testshire-leisure": Publisher("testshire-leisure", "GB-CHC-1999123", "Testshire Leisure Trust",
                                   "leisure_trust", commissioners=("testshire-county-council",),
                                   feeds=(Feed("urls", urls=("http://x/a.csv",)),)),
})


@pytest.fixture
def resolver():
    return Resolver(REGISTRY)


@pytest.mark.parametrize(
    "record, supplier_id, publisher_id, method",
    [
        (PayeeRecord("Foo Ltd", "1234567"), "GB-COH-01234567", None, "id"),
        (PayeeRecord("Testshire Leisure", None, "1999123"), "GB-CHC-1999123", "testshire-leisure",
         "id"),
        # A publisher is one supplier, its org-id, however the payee reached it.
        (PayeeRecord("TESTSHIRE LEISURE TRUST LIMITED"), "GB-CHC-1999123", "testshire-leisure",
         "exact"),
        (PayeeRecord("Testshire CC"), "GB-LAE-TST", "testshire-county-council", "exact"),
        (PayeeRecord("TESTSHIRE COUNCIL"), "GB-LAE-TST", "testshire-county-council", "exact"),
        (PayeeRecord("Testshire County Council - Payroll"), "GB-LAE-TST",
         "testshire-county-council", "exact"),
        (PayeeRecord("Testshire County Council Pension Fund"),
         "MT-testshire-county-council-pension-fund", None, "exact"),
        (PayeeRecord("Barclaycard - Global Commercial Payments"), "MT-barclaycard", None,
         "curated"),
        (PayeeRecord("REDACTED PERSONAL DATA"), None, None, "redacted"),
        (PayeeRecord("*****"), None, None, "redacted"),
        (PayeeRecord("THIRD PARTY"), None, None, "redacted"),
        (PayeeRecord("THIRD PARTY LTD"), "MT-third-party", None, "exact"),
        (PayeeRecord(""), None, None, "none"),
    ],
)
def test_resolution_methods(resolver, record, supplier_id, publisher_id, method):
    result = resolver.resolve(record)
    assert (result.supplier_id, result.publisher_id, result.method) == (
        supplier_id, publisher_id, method)


def test_near_identical_names_meet_and_look_alikes_do_not(resolver):
    first = resolver.resolve(PayeeRecord("Northmoor Building Maintenance Ltd"))
    typo = resolver.resolve(PayeeRecord("Northmoor Buildng Maintenance Ltd"))
    cut = resolver.resolve(PayeeRecord("Northmoor Building Maint"))
    other = resolver.resolve(PayeeRecord("Northmoor Building Society"))
    assert first.supplier_id == typo.supplier_id == cut.supplier_id == name_id(
        "northmoor building maintenance")
    assert typo.method == "fuzzy" and 0.9 < typo.confidence < 1
    assert other.supplier_id != first.supplier_id


@pytest.mark.parametrize(
    "first, second",
    [("Department for Work & Pensions (DWP)", "DWP"),
     ("SCC (SPECIALIST COMPUTER CENTRES PLC)", "Specialist Computer Centres plc"),
     ("WILF WARD FAMILY TRUST", "Wilfward Family Trust"),
     ("PINSENT MASONS", "PINSENTS MASONS"),
     ("NPOWER DIRECT LTD", "NPOWER DIRECT LTD-GAS BILLS ONLY")],
)
def test_declared_acronyms_run_together_words_typos_and_qualifiers_meet(first, second):
    resolver = Resolver(REGISTRY)
    resolver.learn([PayeeRecord(first), PayeeRecord(second)])
    assert resolver.resolve(PayeeRecord(second)).supplier_id == resolver.resolve(
        PayeeRecord(first)).supplier_id


@pytest.mark.parametrize(
    "first, second",
    [
        # A known name followed by words that only qualify it: a region, a department, a
        # profession, a reference.
        ("BARNARDOS", "Barnardos North East"),
        ("PINSENT MASONS LLP", "Pinsent Masons Solicitors"),
        ("AUK SUPPLIES LTD", "AUK SUPPLIES LTD *USE 67346*"),
        ("Testshire County Council", "TESTSHIRE COUNCIL FINANCE"),
        ("Testshire Leisure Trust", "Testshire Leisure Trust IT"),
        ("Testshire Leisure Trust", "TLT Debt Management"),
        ("Slough Borough Council", "Slough Borough Council Ref: H213 1326 0000"),
        # A name cut short by a column width or a clerk, where one known name continues it.
        ("NATIONAL FIRE CHIEFS COUNCIL LTD", "NATIONAL FIRE CHIEFS"),
        ("CALIBRATION & CONSULTANCY SERVICES (UK) LTD", "Calibration & Consulta"),
        ("Balfour Beatty Civil Engineering Limited", "Balfour Beatty Civil Engineering Lt"),
        ("Bridgewater Community Health Nhs", "Bridgewater Community Healthcare NH"),
        ("NORTH SOMERSET COUNCIL", "NRTH SOMERSET CNCL-CF PMTS ONLY"),
    ],
)
def test_qualified_and_cut_short_spellings_meet(first, second):
    resolver = Resolver(REGISTRY)
    resolver.learn([PayeeRecord(first), PayeeRecord(second)])
    one, other = resolver.resolve(PayeeRecord(first)), resolver.resolve(PayeeRecord(second))
    assert other.supplier_id == one.supplier_id
    assert other.method in ("fuzzy", "exact") and other.confidence < 1


@pytest.mark.parametrize(
    "first, second",
    [
        # A registered company named for a region is a company of its own.
        ("NPOWER LTD", "NPOWER NORTHERN LTD"),
        # Common words name no one, whatever follows them.
        ("CARE", "CARE SOUTH"),
        ("SOUTH WESTERN", "SOUTH WESTERN AID"),
        # A place is not its council: Testshire's Citizens Advice is not the county council.
        ("Testshire County Council", "TESTSHIRE CAB"),
        # A name ending in its legal form, a bracket or 'Group' was written in full.
        ("ARTHUR J GALLAGHER INSURANCE BROKERS LTD", "ARTHUR J GALLAGHER (UK)"),
        ("YORKSHIRE CARE EQUIPMENT LTD", "YORKSHIRE CARE GROUP"),
        ("MORRISSEY LTD", "MORRIS"),
        ("Newcastle Upon Tyne Hospitals NHS Trust", "Newcastle upon Tyne"),
        # A name cut off mid-phrase could be any of several bodies.
        ("ROYAL NATIONAL INSTITUTE FOR THE DEAF", "ROYAL NATIONAL INSTITUTE FOR THE"),
    ],
)
def test_qualifier_and_cut_short_rules_keep_their_limits(first, second):
    resolver = Resolver(REGISTRY)
    resolver.learn([PayeeRecord(first), PayeeRecord(second)])
    assert resolver.resolve(PayeeRecord(first)).supplier_id != resolver.resolve(
        PayeeRecord(second)).supplier_id


def test_a_company_is_not_the_public_body_its_initials_spell():
    resolver = Resolver(load_registry())
    assert resolver.resolve(PayeeRecord("DfE")).publisher_id == "department-for-education"
    dfe_ltd = resolver.resolve(PayeeRecord("dfe (UK) Ltd"))
    assert dfe_ltd.publisher_id is None and dfe_ltd.supplier_id == "MT-dfe"


def test_a_bodys_name_without_its_place_names_no_publisher():
    resolver = Resolver(load_registry())
    pcc = resolver.resolve(PayeeRecord("Office of the Police and Crime Commissioner"))
    assert pcc.publisher_id is None


@pytest.mark.parametrize(
    "spelling, publisher_id",
    [("PLYMOUTH HOSPITALS NHS TRUST", "university-hospitals-plymouth-nhs-trust"),
     ("DEPARTMENT OF HEALTH (G)", "department-of-health-and-social-care"),
     ("LANCASHIRE FIRE & RESCUE SERVICE", "lancashire-fire-rescue"),
     ("THE POLICE & CRIME COMMISSIONER FOR LANCASHIRE", "lancashire-pcc"),
     ("Treasury Solicitors", "treasury-solicitors-department")],
)
def test_registry_also_known_as_names_link_to_the_publisher(spelling, publisher_id):
    assert Resolver(load_registry()).resolve(PayeeRecord(spelling)).publisher_id == publisher_id


@pytest.mark.parametrize(
    "first, second",
    [("CORONA ENERGY RETAIL 4 LTD", "CORONA ENERGY RETAIL 3 LIMITED"),
     ("University of Chester", "UNIVERSITY OF CHICHESTER"),
     ("CARE & REPAIR (LEEDS) LTD", "D.I.A.L. (Leeds) Ltd"),
     ("Newcastle upon Tyne", "Newcastle Upon Tyne Hospitals NHS Trust")],
)
def test_look_alikes_stay_apart(first, second):
    resolver = Resolver(REGISTRY)
    assert resolver.resolve(PayeeRecord(first)).supplier_id != resolver.resolve(
        PayeeRecord(second)).supplier_id


def test_curated_non_matches_are_never_joined(resolver):
    real = resolver.resolve(PayeeRecord("REDACTIVE PUBLISHING LTD"))
    twin = resolver.resolve(PayeeRecord("REDACTIVE MEDIA SALES LIMITED"))
    assert real.supplier_id != twin.supplier_id


def test_a_numbered_spelling_gives_its_org_id_to_the_same_name_without_one(resolver):
    resolver.resolve(PayeeRecord("Kirkgate Care Ltd", "7654321"))
    assert resolver.resolve(PayeeRecord("KIRKGATE CARE LIMITED")).supplier_id == (
        "GB-COH-07654321")


def test_council_alternative_names_link_to_registry_councils():
    from sources.registry import load_registry

    resolver = Resolver(load_registry())
    for name in ("Lancashire County Council", "LANCASHIRE CC", "lancashire county"):
        assert resolver.resolve(PayeeRecord(name)).publisher_id == "lancashire-county-council"
    assert resolver.resolve(PayeeRecord("Lancaster City Council")).publisher_id == (
        "lancaster-city-council")
