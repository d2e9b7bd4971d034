"""A deterministic demo world: six fictional publishers, their messy spending files, the truth."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import os
import random
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import NamedTuple

import yaml

SEED = 20250401
MONTHS = tuple((2025, month) for month in range(4, 10))
MONTH_NAMES = ("", "January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
# Fixed English abbreviations: strftime's %b follows the locale, and the bytes must not.
MONTH_ABBR = tuple(name[:3] for name in MONTH_NAMES)
BANK_HOLIDAYS = frozenset({dt.date(2025, 5, 5), dt.date(2025, 5, 26), dt.date(2025, 8, 25)})
PUBLISHED = int(dt.datetime(2025, 10, 1, tzinfo=dt.UTC).timestamp())
REPUBLISHED = int(dt.datetime(2025, 10, 15, tzinfo=dt.UTC).timestamp())
ZIP_TIME = (2025, 10, 1, 0, 0, 0)
WORKBOOK_TIME = dt.datetime(2025, 10, 1, 9, 0, 0)
CREDIT_RATE = 0.04
UUID_NAMESPACE = uuid.UUID("6f6e6579-7472-6169-6c00-64656d6f0000")

NMB = "northmoor-borough-council"
FMB = "fellbrook-council"
NLT = "northmoor-leisure-trust"
FSH = "fellside-homes"
BCS = "brookfield-care"
FLT = "fellbrook-learning-trust"

# Registry entries (feeds are added with the server's base URL).
PUBLISHERS: dict[str, dict] = {
    NMB: {"org_id": "GB-LAE-NMR", "name": "Northmoor Borough Council", "kind": "council",
          "gss_code": "E06000999", "population": 118400,
          "population_year": 2020},
    FMB: {"org_id": "GB-LAE-FBK", "name": "Fellbrook Metropolitan Borough Council",
          "kind": "council", "gss_code": "E08000999", "population": 236900,
          "population_year": 2020},
    NLT: {"org_id": "GB-CHC-1999123", "name": "Northmoor Leisure Trust", "kind": "leisure_trust",
          "commissioners": [NMB]},
    FSH: {"org_id": "GB-SHPE-L9999", "name": "Fellside Homes", "kind": "housing",
          "commissioners": [NMB, FMB]},
    BCS: {"org_id": "GB-COH-99900123", "name": "Brookfield Care Services Ltd",
          "kind": "care_provider", "commissioners": [NMB, FMB]},
    FLT: {"org_id": "GB-COH-99900456", "name": "Fellbrook Learning Trust",
          "kind": "academy_trust", "commissioners": [FMB]},
}

# Where each publisher's rows are filed, by month (q is the quarter of the 2025-26 year).
FILE_PATHS = {
    NMB: "northmoor-borough-council/files/spend-over-500-{y}-{m:02d}.csv",
    FMB: "fellbrook-council/data/fellbrook-spend-{y}-{m:02d}.csv",
    NLT: "northmoor-leisure-trust/documents/NLT-payments-over-250-Q{q}-2025-26.csv",
    FSH: "fellside-homes/downloads/fellside-homes-payments-2025-q{q}.zip",
    BCS: "brookfield-care/uploads/2025/10/Brookfield-Care-Supplier-Payments-Apr-Sep-2025.xlsx",
}
BROKEN_PATH = "fellbrook-learning-trust/docs/FLT-expenditure-over-500-2025-26.xlsx"
BROKEN_REASON = ("the academy trust's spreadsheet URL answers 200 with an HTML 'Sorry, page not "
                 "found' page from its website instead of the workbook")
CKAN_DATASET = "fellbrook-council-spend-over-500"
TOTALS_MONTH = 9  # Northmoor's September file ends with a totals row
REPUBLISHED_MONTH = 7  # Northmoor re-posts its July file with a correction

QUIRKS = {
    NMB: "cp1252 CSV, 2-line title preamble, '£' in the amount header, amounts '£1,234.56', "
         "credit notes '(123.45)' and '123.45-', dd/mm/yyyy, totals row closing September",
    FMB: "UTF-8 with BOM, ISO dates, plain amounts, company and charity number columns",
    NLT: "quarterly CSV, d-Mon-yy dates, amounts with thousands commas",
    FSH: "ZIP wrapping a CSV, dd/mm/yy two-digit years",
    BCS: "XLSX workbook, one sheet per month, native date cells and numeric amounts",
    FLT: "HTML error page served with status 200 under the workbook's name",
}


class Stream(NamedTuple):
    """A kind of payment a publisher makes: to whom (as written), for what, how much, how often.

    entity is the payee's publisher id, or its canonical name when it is not a publisher.
    low/high are pence; rows is the (min, max) count per month; day fixes a scheduled payment
    to the first working day on or after it.
    """

    payee: str
    entity: str
    area: str
    category: str
    low: int
    high: int
    rows: tuple[int, int] = (1, 1)
    months: tuple[int, ...] = ()
    company: str = ""
    charity: str = ""
    credits: bool = False
    day: int = 0


S = Stream
BRIGHTWATER = "Brightwater Cleaning Services Ltd"
MOORLAND = "Moorland Energy Supply Ltd"
PENNINE = "Pennine Staffing Solutions Ltd"
NBM = "Northmoor Building Maintenance Ltd"
CATERING = "Fellside Catering Supplies Ltd"
PENSION = "Fellshire Pension Fund"
ICB = "NHS Fellshire Integrated Care Board"
RPD = "REDACTED PERSONAL DATA"
RCC = "REDACTED COMMERCIAL CONFIDENTIALITY"
# The entity of payees who are private individuals named in full: never a supplier.
PERSON = "private-individual"

STREAMS: dict[str, tuple[Stream, ...]] = {
    NMB: (
        S("NORTHMOOR LEISURE TRUST", NLT, "Culture and Leisure", "Leisure Management Fee",
          14583333, 14583333, day=1),
        S("Northmoor Leisure Trust Ltd", NLT, "Culture and Leisure", "Utilities Recharge",
          800000, 1500000, months=(6, 9)),
        S("Northmoor Leisure Trust (T/A Active Northmoor)", NLT, "Children's Services",
          "Holiday Activities Grant", 2500000, 4000000, months=(7, 8)),
        S("Brookfield Care Services Ltd", BCS, "Adult Social Care", "Domiciliary Care",
          180000, 950000, (8, 12)),
        S("BROOKFIELD CARE SERVICES", BCS, "Adult Social Care", "Supported Living",
          400000, 1200000, (2, 3)),
        S("Fellside Homes Ltd", FSH, "Housing Needs", "Temporary Accommodation",
          150000, 600000, (3, 5)),
        S("Fellside Homes Ltd", FSH, "Housing Needs", "Housing Related Support Contract",
          2200000, 2200000, day=15),
        S(RPD, RPD, "Adult Social Care", "Direct Payments", 50000, 300000, (16, 24)),
        S(RCC, RCC, "Adult Social Care", "Residential Care Placements", 300000, 1200000, (2, 4)),
        S(RPD, RPD, "Children's Services", "Foster Carer Allowances", 40000, 150000, (4, 6)),
        S(PENSION, PENSION, "Corporate Finance", "Employer Pension Contributions",
          38000000, 42000000, day=19),
        S("FELLBROOK MBC", FMB, "Legal and Democratic", "Shared Legal Service Recharge",
          1800000, 2600000, months=(6, 9)),
        S("Environment Agency", "Environment Agency", "Environment", "Flood Defence Levy",
          6412000, 6412000, months=(7,)),
        S(ICB, ICB, "Adult Social Care", "Better Care Fund Contribution", 5000000, 7000000),
        S("Fellshire Police and Crime Commissioner", "Fellshire Police and Crime Commissioner",
          "Community Safety", "CCTV Monitoring Contribution", 1850000, 1850000, months=(5, 8)),
        S(BRIGHTWATER, BRIGHTWATER, "Property Services", "Cleaning", 60000, 400000, (2, 4),
          credits=True),
        S(MOORLAND, MOORLAND, "Property Services", "Electricity", 200000, 1800000, (2, 4)),
        S(PENNINE, PENNINE, "Corporate Services", "Agency Staff", 80000, 600000, (5, 8),
          credits=True),
        S(NBM, NBM, "Property Services", "Repairs and Maintenance", 50000, 800000, (6, 12),
          credits=True),
        S("Northmoor Highways Services Ltd", "Northmoor Highways Services Ltd",
          "Highways and Transport", "Highways Maintenance", 100000, 4500000, (10, 16),
          credits=True),
        S("Fellshire Waste Management Ltd", "Fellshire Waste Management Ltd", "Environment",
          "Waste Collection Contract", 2000000, 9000000, (2, 3)),
        S("Greenway Grounds Maintenance Ltd", "Greenway Grounds Maintenance Ltd", "Environment",
          "Grounds Maintenance", 80000, 900000, (6, 10), credits=True),
        S("Civic IT Solutions Ltd", "Civic IT Solutions Ltd", "Corporate Services",
          "Software Licences", 60000, 2500000, (3, 6), credits=True),
        S("Moorview Consultancy LLP", "Moorview Consultancy LLP", "Regeneration", "Consultancy",
          250000, 1500000, (1, 3)),
        S("Fellshire Office Supplies Ltd", "Fellshire Office Supplies Ltd", "Corporate Services",
          "Stationery", 50000, 200000, (2, 4), credits=True),
        S("Brookside Legal LLP", "Brookside Legal LLP", "Legal and Democratic", "Legal Fees",
          100000, 1200000, (1, 3)),
        S("Dalesway Coaches Ltd", "Dalesway Coaches Ltd", "Children's Services",
          "Home to School Transport", 150000, 900000, (8, 12), credits=True),
        S("St Bede\u2019s Catering Ltd", "St Bede's Catering Ltd", "Children's Services",
          "School Meals", 200000, 1400000, (3, 5)),
        S("Caf\u00e9 Northmoor CIC", "Cafe Northmoor CIC", "Culture and Leisure", "Catering",
          50000, 150000, (1, 2)),
        S("Moorside Print & Design Ltd", "Moorside Print & Design Ltd", "Communications",
          "Printing", 50000, 300000, (2, 3)),
        S("Fellshire Fleet Services Ltd", "Fellshire Fleet Services Ltd", "Environment",
          "Vehicle Maintenance", 60000, 500000, (4, 8), credits=True),
        S("Northmoor Citizens Advice", "Northmoor Citizens Advice", "Communities",
          "Grants to Voluntary Organisations", 1250000, 1250000, months=(4, 7)),
        S("Kingfisher Security Ltd", "Kingfisher Security Ltd", "Property Services",
          "Security Services", 100000, 400000, (2, 3)),
        S("Pinnacle Insurance Brokers Ltd", "Pinnacle Insurance Brokers Ltd",
          "Corporate Finance", "Insurance Premiums", 18500000, 18500000, months=(4,)),
        S("Fuelcard Direct Ltd", "Fuelcard Direct Ltd", "Environment", "Fuel", 200000, 900000,
          (2, 3)),
        S("Amberline Traffic Management Ltd", "Amberline Traffic Management Ltd",
          "Highways and Transport", "Traffic Management", 50000, 400000, (2, 4)),
        S("Heathfield Construction Ltd", "Heathfield Construction Ltd", "Regeneration",
          "Capital Works", 2500000, 12000000, (1, 2)),
        S("Northmoor Community Transport", "Northmoor Community Transport", "Adult Social Care",
          "Transport", 50000, 200000, (2, 3)),
    ),
    FMB: (
        S("Fellbrook Learning Trust", FLT, "Children and Education", "High Needs Top-Up Funding",
          2000000, 6000000, (2, 2), company="99900456"),
        S("FELLBROOK LEARNING TRUST (ACADEMY)", FLT, "Children and Education",
          "Pupil Growth Fund", 3500000, 3500000, months=(9,)),
        S("BROOKFIELD CARE SERVICES LIMITED", BCS, "Adults and Health", "Home Care",
          200000, 900000, (7, 10), company="99900123"),
        S("Brookfield Care Services", BCS, "Adults and Health", "Extra Care Housing",
          500000, 1500000, (1, 2)),
        S("FELLSIDE HOMES LIMITED", FSH, "Housing", "Supported Housing", 1000000, 2500000,
          (1, 2)),
        S("Fellside Homes Housing Association", FSH, "Housing", "Nominations Agreement",
          1500000, 1500000, months=(4, 7)),
        S("Northmoor Borough Council", NMB, "Place", "Shared Building Control Service",
          1500000, 2000000, months=(5, 8)),
        S(PENSION, PENSION, "Resources", "Employer Pension Contributions", 71000000, 76000000,
          day=19),
        S(ICB, ICB, "Adults and Health", "Section 75 Pooled Budget", 9000000, 11000000),
        S(RPD, RPD, "Adults and Health", "Direct Payments", 40000, 280000, (14, 20)),
        S(RCC, RCC, "Adults and Health", "Nursing Care Placements", 400000, 1500000, (2, 3)),
        S(MOORLAND, MOORLAND, "Resources", "Gas and Electricity", 300000, 2200000, (2, 3)),
        S("Fellbrook Citizens Advice", "Fellbrook Citizens Advice", "Communities",
          "Advice Services Grant", 1800000, 1800000, months=(4, 7), charity="1999456"),
        S("Fellshire Mind", "Fellshire Mind", "Adults and Health", "Mental Health Support",
          300000, 900000, (1, 2), charity="1999789"),
        S("Caf\u00e9 Fellbrook Ltd", "Cafe Fellbrook Ltd", "Place", "Catering", 50000, 200000,
          (1, 2), company="99901007"),
        S("Fellbrook Highways Partnership Ltd", "Fellbrook Highways Partnership Ltd", "Place",
          "Highways Maintenance", 200000, 6000000, (10, 14), company="99901001", credits=True),
        S("Ridgeway Waste Services Ltd", "Ridgeway Waste Services Ltd", "Place",
          "Waste Disposal", 3000000, 11000000, (2, 3), company="99901002"),
        S("Datahive Systems Ltd", "Datahive Systems Ltd", "Resources", "ICT Services",
          100000, 3000000, (3, 6), company="99901003", credits=True),
        S("Oakfield Foster Care Ltd", "Oakfield Foster Care Ltd", "Children and Education",
          "Independent Fostering Agency", 250000, 900000, (5, 8), company="99901004"),
        S("Swiftline Taxis Ltd", "Swiftline Taxis Ltd", "Children and Education",
          "SEN Transport", 100000, 600000, (9, 13), credits=True),
        S("Fellbrook Parks Trust", "Fellbrook Parks Trust", "Place", "Parks Management",
          1100000, 1100000, day=5, charity="1999321"),
        S("Harlow & Finch Solicitors LLP", "Harlow & Finch Solicitors LLP", "Resources",
          "Legal Fees", 100000, 1500000, (1, 3)),
        S("Brightline Temporary Staffing Ltd", "Brightline Temporary Staffing Ltd",
          "Resources", "Agency Staff", 80000, 700000, (8, 12), company="99901005", credits=True),
        S("Pennine Office Products Ltd", "Pennine Office Products Ltd", "Resources",
          "Stationery", 50000, 250000, (2, 4), credits=True),
        S("Greystone Property Services Ltd", "Greystone Property Services Ltd", "Resources",
          "Building Repairs", 60000, 900000, (7, 11), company="99901006", credits=True),
        S("Fellbrook Community Foodbank", "Fellbrook Community Foodbank", "Communities",
          "Household Support Fund", 200000, 800000, (1, 2), charity="1999654"),
        S("Meadowlark Street Lighting Ltd", "Meadowlark Street Lighting Ltd", "Place",
          "Street Lighting", 150000, 1200000, (2, 4)),
        S("Vale Fleet Hire Ltd", "Vale Fleet Hire Ltd", "Place", "Vehicle Hire", 90000, 500000,
          (2, 4)),
        S("Northern Rail Ticketing Ltd", "Northern Rail Ticketing Ltd", "Children and Education",
          "Travel Passes", 50000, 300000, (1, 3)),
        # A slip the privacy guard must catch: a foster carer published by name (fictional).
        S("Mrs P Ashworth", PERSON, "Children and Education", "Foster Carer Allowances",
          52000, 61000, months=(5, 8, 11)),
    ),
    NLT: (
        S(MOORLAND, MOORLAND, "Facilities", "Gas and Electricity", 1000000, 2000000, (2, 2)),
        S(BRIGHTWATER, BRIGHTWATER, "Facilities", "Cleaning", 200000, 600000, (3, 4)),
        S("Pennine Pool Chemicals Ltd", "Pennine Pool Chemicals Ltd", "Pool Plant",
          "Pool Chemicals", 30000, 180000, (3, 5)),
        S(CATERING, CATERING, "Cafe", "Catering Supplies", 30000, 150000, (6, 8), credits=True),
        S(PENNINE, PENNINE, "Operations", "Agency Staff", 150000, 700000, (4, 6)),
        S(NBM, NBM, "Facilities", "Repairs and Maintenance", 50000, 600000, (4, 7),
          credits=True),
        S("FitKit Gym Equipment Ltd", "FitKit Gym Equipment Ltd", "Fitness",
          "Equipment Leasing", 325000, 325000, day=10),
        S("Northmoor Borough Council", NMB, "Finance", "Business Rates", 900000, 900000, day=1),
        S("Active Lifestyle Software Ltd", "Active Lifestyle Software Ltd", "IT",
          "Booking System Licence", 145000, 145000, day=20),
        S(RPD, RPD, "Operations", "Freelance Instructors", 20000, 90000, (3, 5)),
    ),
    FSH: (
        S(NBM, NBM, "Responsive Repairs", "Repairs", 20000, 150000, (12, 18), credits=True),
        S("Fellshire Roofing & Glazing Ltd", "Fellshire Roofing & Glazing Ltd",
          "Planned Maintenance", "Roofing", 50000, 300000, (2, 4)),
        S("BRIGHTWATER CLEANING SERVICES LTD", BRIGHTWATER, "Estate Services",
          "Communal Cleaning", 40000, 200000, (3, 5)),
        S(MOORLAND, MOORLAND, "Estate Services", "Communal Electricity", 30000, 120000, (2, 3)),
        S(PENNINE, PENNINE, "Housing Management", "Agency Staff", 80000, 250000, (3, 4)),
        S("Fellside Heating Services Ltd", "Fellside Heating Services Ltd", "Compliance",
          "Gas Servicing", 15000, 60000, (6, 10), credits=True),
        S(RPD, RPD, "Housing Management", "Tenant Decant and Compensation", 10000, 80000,
          (3, 5)),
        S("Northmoor Borough Council", NMB, "Voids", "Council Tax on Void Properties",
          30000, 90000, (1, 2)),
        S("Fellbrook Metropolitan Borough Council", FMB, "Voids",
          "Council Tax on Void Properties", 30000, 90000, (1, 2)),
        S("Keyway Locksmiths Ltd", "Keyway Locksmiths Ltd", "Voids", "Security", 10000, 40000,
          (3, 5)),
        S("Homefront Pest Control Ltd", "Homefront Pest Control Ltd", "Estate Services",
          "Pest Control", 8000, 30000, (2, 3)),
    ),
    BCS: (
        S(PENNINE, PENNINE, "Care Delivery", "Agency Care Staff", 150000, 600000, (10, 14)),
        S("Brightwater Cleaning Services Limited", BRIGHTWATER, "Premises", "Cleaning",
          50000, 200000, (3, 4)),
        S(MOORLAND, MOORLAND, "Premises", "Utilities", 100000, 300000, (2, 3)),
        S(CATERING, CATERING, "Kitchen", "Catering", 50000, 250000, (5, 7), credits=True),
        S("Brookside Pharmacy Services Ltd", "Brookside Pharmacy Services Ltd", "Care Delivery",
          "Medication", 30000, 150000, (4, 6), credits=True),
        S("Northmoor Mobility Aids Ltd", "Northmoor Mobility Aids Ltd", "Care Delivery",
          "Equipment", 20000, 120000, (2, 4)),
        S("Fellshire Lease Cars Ltd", "Fellshire Lease Cars Ltd", "Transport",
          "Vehicle Leasing", 98000, 98000, day=3),
        S(RPD, RPD, "Care Delivery", "Mileage and Expenses (Self-Employed Carers)", 5000, 40000,
          (10, 14)),
        S("Fellbrook Metropolitan Borough Council", FMB, "Training", "DBS Checks and Training",
          10000, 50000),
        S("Care Quality Commission", "Care Quality Commission", "Compliance",
          "Registration Fees", 412300, 412300, months=(4,)),
        S(NBM, NBM, "Premises", "Repairs", 20000, 200000, (3, 5)),
    ),
}
# The publisher-id entities among payees; every other entity is an ordinary supplier.
PUBLISHER_IDS = frozenset(PUBLISHERS)
# Northmoor's July file as first posted carries a keying error on one row (an extra zero),
# which the republished file corrects, and it lacks one late payment the new file adds.
MISKEYED_PAYEE = "Northmoor Highways Services Ltd"
LATE_ROW = S("Greenway Grounds Maintenance Ltd", "Greenway Grounds Maintenance Ltd",
             "Environment", "Grounds Maintenance", 184500, 184500)
LATE_DATE = dt.date(2025, 7, 30)
# Transaction references: each finance system's prefix and where this half-year's run starts.
REFERENCES = {NMB: ("NBC", 297_880), FMB: ("FB", 1_204_310), NLT: ("NLT", 4_410),
              FSH: ("FH", 88_020), BCS: ("BCS", 15_300)}
LEISURE_SITES = ("Northmoor Leisure Centre", "Moorgate Pool", "Fellside Sports Hall",
                 "Head Office")
CARE_HOMES = ("Brookfield House", "Willow Court", "Community Services")


@dataclass(frozen=True)
class Payment:
    """One payment row as its publisher writes it, and the file it is published in."""

    payer: str
    file: str
    date: dt.date
    payee: str
    entity: str
    pence: int
    area: str
    category: str
    company: str = ""
    charity: str = ""
    reference: str = ""
    site: str = ""

    @property
    def payee_id(self) -> str | None:
        return self.entity if self.entity in PUBLISHER_IDS else None

    @property
    def redacted(self) -> bool:
        return self.payee.startswith("REDACTED")

    @property
    def withheld(self) -> bool:
        """Redacted by the publisher, or a private individual the site must not name."""
        return self.redacted or self.entity == PERSON


@dataclass(frozen=True)
class Ledger:
    """Every generated row: as first published, and the republished file's second version."""

    payments: tuple[Payment, ...]
    corrected: tuple[Payment, ...]

    def by_file(self, republished: bool = False) -> dict[str, list[Payment]]:
        files: dict[str, list[Payment]] = defaultdict(list)
        for payment in self.after_republish() if republished else self.payments:
            files[payment.file].append(payment)
        return dict(files)

    def after_republish(self) -> tuple[Payment, ...]:
        path = self.corrected[0].file
        return tuple(p for p in self.payments if p.file != path) + self.corrected


@dataclass
class DemoWorld:
    """A built demo world: www is the server's root; truth is truth.json's content."""

    root: Path
    www: Path
    registry_path: Path
    truth: dict
    base_url: str = ""
    _second_version: bytes = field(default=b"", repr=False)

    def republish(self) -> str:
        """Overwrite the republished file with its corrected version; return its URL."""
        republished = self.truth["republished"]
        path = self.root / republished["path"]
        path.write_bytes(self._second_version)
        os.utime(path, (REPUBLISHED, REPUBLISHED))
        return republished["url"]


def build_demo_world(root: Path, base_url: str) -> DemoWorld:
    """Write the demo world's www tree, registry.yaml and truth.json under root."""
    root, base_url = Path(root), base_url.rstrip("/")
    www = root / "www"
    ledger = generate_ledger()
    first, second = ledger.by_file(), ledger.by_file(republished=True)
    republished_path = ledger.corrected[0].file
    for path, rows in first.items():
        _write(www / path, render(rows))
    _write(www / BROKEN_PATH, BROKEN_PAGE)
    for path, content in _pages(base_url, sorted(first)).items():
        _write(www / path, content)
    registry_path = root / "registry.yaml"
    _write(registry_path, _registry_yaml(base_url, sorted(first)))
    truth = _truth(ledger, base_url, first, second[republished_path])
    _write(root / "truth.json", (json.dumps(truth, indent=2) + "\n").encode())
    return DemoWorld(root, www, registry_path, truth, base_url,
                     render(second[republished_path]))


# --- generating the rows ----------------------------------------------------------------


def generate_ledger(seed: int = SEED) -> Ledger:
    """All rows of the world, the same every time for a given seed."""
    rng = random.Random(seed)
    payments: list[Payment] = []
    for payer, streams in STREAMS.items():
        payments.extend(_numbered(payer, _payer_rows(payer, streams, rng)))
    return _with_republished(payments)


def _payer_rows(payer: str, streams: tuple[Stream, ...], rng: random.Random) -> list[Payment]:
    rows = []
    for year, month in MONTHS:
        days = working_days(year, month)
        for stream in streams:
            if stream.months and month not in stream.months:
                continue
            for _ in range(rng.randint(*stream.rows)):
                rows.append(_payment(payer, stream, days, rng))
    return sorted(rows, key=lambda p: (p.date, p.area, p.payee, p.pence))


def _payment(payer: str, stream: Stream, days: list[dt.date], rng: random.Random) -> Payment:
    pence = rng.randint(stream.low, stream.high)
    if stream.credits and rng.random() < CREDIT_RATE:
        pence = -rng.randint(stream.low // 4, stream.low)  # a credit note
    date = next(d for d in days if d.day >= stream.day) if stream.day else rng.choice(days)
    site = rng.choice(LEISURE_SITES if payer == NLT else CARE_HOMES)
    return Payment(payer, file_path(payer, date), date, stream.payee, stream.entity, pence,
                   stream.area, stream.category, stream.company, stream.charity, site=site)


def _numbered(payer: str, rows: list[Payment]) -> list[Payment]:
    prefix, start = REFERENCES[payer]
    return [dataclasses.replace(row, reference=f"{prefix}{start + n}")
            for n, row in enumerate(rows)]


def _with_republished(payments: list[Payment]) -> Ledger:
    path = file_path(NMB, dt.date(2025, REPUBLISHED_MONTH, 1))
    july = [p for p in payments if p.file == path]
    wrong = next(p for p in july if p.entity == MISKEYED_PAYEE and p.pence > 0)
    published = [dataclasses.replace(p, pence=p.pence * 10) if p is wrong else p
                 for p in payments]
    prefix, start = REFERENCES[NMB]
    after_last = start + sum(p.payer == NMB for p in payments)
    late = Payment(NMB, path, LATE_DATE, LATE_ROW.payee, LATE_ROW.entity, LATE_ROW.low,
                   LATE_ROW.area, LATE_ROW.category, reference=f"{prefix}{after_last}")
    corrected = sorted([*july, late], key=lambda p: p.date)  # stable: the late row goes last
    return Ledger(tuple(published), tuple(corrected))


def working_days(year: int, month: int) -> list[dt.date]:
    """Monday to Friday in a month, less England's bank holidays."""
    day, days = dt.date(year, month, 1), []
    while day.month == month:
        if day.weekday() < 5 and day not in BANK_HOLIDAYS:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def file_path(payer: str, date: dt.date) -> str:
    return FILE_PATHS[payer].format(y=date.year, m=date.month, q=(date.month - 4) // 3 + 1)


def flows(payments: Iterable[Payment]) -> list[dict]:
    """Money per (payer, payee as written, payee publisher id), in pence, with row counts."""
    totals: dict[tuple[str, str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    for p in payments:
        total = totals[(p.payer, p.payee, p.payee_id)]
        total[0] += p.pence
        total[1] += 1
    return [{"payer": payer, "payee": payee, "payee_id": payee_id, "amount_pence": pence,
             "rows": rows}
            for (payer, payee, payee_id), (pence, rows) in sorted(
                totals.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or ""))]


# --- writing the files -------------------------------------------------------------------


def render(rows: list[Payment]) -> bytes:
    """The bytes of the published file holding these rows (all from one file)."""
    return WRITERS[rows[0].payer](rows)


def _pounds(pence: int, commas: bool = False) -> str:
    whole, pennies = divmod(abs(pence), 100)
    return f"{whole:,}.{pennies:02d}" if commas else f"{whole}.{pennies:02d}"


def _plain(pence: int) -> str:
    return ("-" if pence < 0 else "") + _pounds(pence)


def _csv(rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _northmoor(rows: list[Payment]) -> bytes:
    month = rows[0].date.month
    header = ["Service Area", "Expense Type", "Supplier Name", "Payment Date",
              "Transaction Number", "Net Amount (\u00a3)", "Description"]
    title = [["Northmoor Borough Council", "", "", "", "", "", ""],
             [f"Payments to suppliers over \u00a3500 - {MONTH_NAMES[month]} 2025"]]
    body, credits = [], 0
    for p in rows:
        if p.pence < 0:  # the finance system's two export paths write credits differently
            credits += 1
            amount = (f"({_pounds(p.pence, True)})" if credits % 2
                      else f"{_pounds(p.pence, True)}-")
        else:
            amount = "\u00a3" + _pounds(p.pence, True)
        body.append([p.area, p.category, p.payee, f"{p.date:%d/%m/%Y}", p.reference, amount,
                     f"{p.category} {MONTH_NAMES[month]} 2025"])
    if month == TOTALS_MONTH:
        body.append(["Total", "", "", "", "", "\u00a3" + _pounds(sum(p.pence for p in rows), True),
                     ""])
    return _csv([*title, header, *body]).encode("cp1252")


def _fellbrook(rows: list[Payment]) -> bytes:
    header = ["Body Name", "Service Area", "Expense Type", "Payment Date", "Transaction Number",
              "Amount", "Supplier Name", "Companies House Registration Number",
              "Charity Commission Number", "Description"]
    body = [[PUBLISHERS[FMB]["name"], p.area, p.category, p.date.isoformat(), p.reference,
             _plain(p.pence), p.payee, p.company, p.charity,
             f"{p.category} \u2013 {MONTH_NAMES[p.date.month]}"] for p in rows]
    return _csv([header, *body]).encode("utf-8-sig")


def _leisure(rows: list[Payment]) -> bytes:
    header = ["Date", "Supplier", "Department", "Expense Type", "Site", "Amount"]
    body = [[f"{p.date.day:02d}-{MONTH_ABBR[p.date.month]}-{p.date:%y}", p.payee, p.area,
             p.category, p.site, ("-" if p.pence < 0 else "") + _pounds(p.pence, True)]
            for p in rows]
    return _csv([header, *body]).encode("cp1252")


def _housing(rows: list[Payment]) -> bytes:
    header = ["Transaction No", "Payment date", "Supplier name", "Cost Centre", "Expense type",
              "Net amount"]
    body = [[p.reference, f"{p.date:%d/%m/%y}", p.payee, p.area, p.category, _plain(p.pence)]
            for p in rows]
    quarter = (rows[0].date.month - 4) // 3 + 1
    member = f"Fellside_Homes_payments_over_250_Q{quarter}_2025-26.csv"
    return _zip({member: _csv([header, *body]).encode("cp1252")})


def _care(rows: list[Payment]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    book.properties.creator = book.properties.lastModifiedBy = "Brookfield Care Finance"
    book.properties.created = book.properties.modified = WORKBOOK_TIME
    for year, month in MONTHS:
        sheet = book.create_sheet(f"{MONTH_ABBR[month]} {year % 100}")
        sheet.append(["Date", "Supplier", "Expenditure Category", "Home", "Amount"])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for p in (p for p in rows if p.date.month == month):
            sheet.append([p.date, p.payee, p.category, p.site, p.pence / 100])
            sheet.cell(sheet.max_row, 1).number_format = "dd/mm/yyyy"
            sheet.cell(sheet.max_row, 5).number_format = "#,##0.00"
        for column, width in zip("ABCDE", (12, 40, 42, 22, 12), strict=True):
            sheet.column_dimensions[column].width = width
    return _workbook_bytes(book)


def _workbook_bytes(book) -> bytes:
    from openpyxl.writer.excel import ExcelWriter

    # save_workbook stamps "modified" with the clock, and zipfile stamps members: avoid both.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as built:
        return _zip({info.filename: built.read(info) for info in built.infolist()})


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


WRITERS: dict[str, Callable[[list[Payment]], bytes]] = {
    NMB: _northmoor, FMB: _fellbrook, NLT: _leisure, FSH: _housing, BCS: _care,
}
BROKEN_PAGE = (
    b"<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\n"
    b"<title>Sorry, page not found - Fellbrook Learning Trust</title></head>\n<body>\n"
    b"<header><a href=\"/fellbrook-learning-trust/\">Fellbrook Learning Trust</a></header>\n"
    b"<main><h1>Sorry, page not found</h1>\n<p>The document you requested has moved or no "
    b"longer exists. Please use the search box or contact governance@fellbrook-lt.example.</p>"
    b"</main>\n</body>\n</html>\n"
)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (PUBLISHED, PUBLISHED))


# --- web pages, CKAN and the registry ----------------------------------------------------


def _page(title: str, links: list[tuple[str, str]]) -> bytes:
    items = "\n".join(f'  <li><a href="{escape(href)}">{escape(text)}</a></li>'
                      for href, text in links)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title></head>\n<body>\n<h1>{escape(title)}</h1>\n"
            f"<ul>\n{items}\n</ul>\n</body>\n</html>\n").encode()


def _files_of(publisher: str, paths: list[str]) -> list[str]:
    return [p for p in paths if p.startswith(publisher + "/")]


def _pages(base_url: str, paths: list[str]) -> dict[str, bytes]:
    """Each publisher's transparency page, the site's front page and the CKAN dataset."""
    pages = {
        # Northmoor links root-relative, as its CMS does, next to a guidance PDF.
        f"{NMB}/index.html": _page("Northmoor Borough Council: spending over \u00a3500", [
            *[("/" + p, f"Spend over \u00a3500 {_month_label(p)}") for p in _files_of(NMB, paths)],
            (f"/{NMB}/files/spending-data-guidance.pdf", "How we publish spending data (PDF)"),
            ("/", "Home")]),
        f"{NMB}/files/spending-data-guidance.pdf": b"%PDF-1.4\n% demo placeholder\n%%EOF\n",
        # Fellside's page links relative to itself.
        f"{FSH}/index.html": _page("Fellside Homes: payments over \u00a3250", [
            (p.removeprefix(f"{FSH}/"), Path(p).name) for p in _files_of(FSH, paths)]),
        f"{FMB}/index.html": _page("Fellbrook Council: open data", [
            (f"/api/3/action/package_show?id={CKAN_DATASET}",
             "Spending over \u00a3500 (data portal)")]),
        f"{NLT}/index.html": _page("Northmoor Leisure Trust: transparency", [
            ("/" + p, Path(p).name) for p in _files_of(NLT, paths)]),
        f"{BCS}/index.html": _page("Brookfield Care Services: supplier payments", [
            ("/" + p, Path(p).name) for p in _files_of(BCS, paths)]),
        f"{FLT}/index.html": _page("Fellbrook Learning Trust: financial information", [
            ("/" + BROKEN_PATH, "Expenditure over \u00a3500 2025-26 (Excel)")]),
        "index.html": _page("moneytrail demo world", [
            (f"/{pid}/", entry["name"]) for pid, entry in PUBLISHERS.items()]),
        f"ckan/{CKAN_DATASET}.json": _ckan(base_url, _files_of(FMB, paths)),
    }
    return pages


def _month_label(path: str) -> str:
    year, month = path.removesuffix(".csv").split("-")[-2:]
    return f"{MONTH_NAMES[int(month)]} {year}"


def _ckan(base_url: str, paths: list[str]) -> bytes:
    resources = [{
        "id": str(uuid.uuid5(UUID_NAMESPACE, p)),
        "name": f"Spend over \u00a3500 {_month_label(p)}",
        "format": "CSV",
        "mimetype": "text/csv",
        "url": f"{base_url}/{p}",
    } for p in paths]
    document = {
        "help": f"{base_url}/api/3/action/help_show?name=package_show",
        "success": True,
        "result": {
            "id": str(uuid.uuid5(UUID_NAMESPACE, CKAN_DATASET)),
            "name": CKAN_DATASET,
            "title": "Fellbrook Council spending over \u00a3500",
            "license_id": "uk-ogl",
            "organization": {"name": FMB, "title": PUBLISHERS[FMB]["name"]},
            "num_resources": len(resources),
            "resources": resources,
        },
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def feeds(base_url: str, paths: list[str]) -> dict[str, list[dict]]:
    """Each publisher's feeds, one of each kind the registry knows."""
    urls = {pid: [f"{base_url}/{p}" for p in _files_of(pid, paths)] for pid in PUBLISHERS}
    return {
        NMB: [{"kind": "index", "url": f"{base_url}/{NMB}/",
               "pattern": r"/files/spend-over-500-\d{4}-\d{2}\.csv$"}],
        FMB: [{"kind": "ckan", "url": base_url, "dataset": CKAN_DATASET}],
        NLT: [{"kind": "urls", "urls": urls[NLT]}],
        FSH: [{"kind": "index", "url": f"{base_url}/{FSH}/",
               "pattern": r"payments-\d{4}-q\d\.zip$"}],
        BCS: [{"kind": "urls", "urls": urls[BCS]}],
        FLT: [{"kind": "urls", "urls": [f"{base_url}/{BROKEN_PATH}"]}],
    }


def _registry_yaml(base_url: str, paths: list[str]) -> bytes:
    by_publisher = feeds(base_url, paths)
    entries = [{"id": pid, **entry, "website": f"{base_url}/{pid}/", "feeds": by_publisher[pid]}
               for pid, entry in PUBLISHERS.items()]
    text = yaml.safe_dump({"publishers": entries}, sort_keys=False, allow_unicode=True,
                          width=100)
    note = ("# The demo registry: fictional publishers served by sources.demo_server.LocalServer."
            "\n# Generated by sources/demo_world.py; see docs/demo.md.\n")
    return (note + text).encode()


# --- the truth ---------------------------------------------------------------------------


def file_truth(path: str, rows: list[Payment], base_url: str) -> dict:
    """What a correct reader must report for one file."""
    dates = [p.date for p in rows]
    return {
        "publisher": rows[0].payer,
        "path": f"www/{path}",
        "url": f"{base_url}/{path}",
        "kind": "transactions",
        "rows": len(rows),
        "amount_total_pence": sum(p.pence for p in rows),
        "redacted_rows": sum(p.redacted for p in rows),
        "date_min": min(dates).isoformat(),
        "date_max": max(dates).isoformat(),
        "quirks": QUIRKS[rows[0].payer],
    }


def _truth(ledger: Ledger, base_url: str, first: dict[str, list[Payment]],
           second: list[Payment]) -> dict:
    path = second[0].file
    broken = {"publisher": FLT, "path": f"www/{BROKEN_PATH}", "url": f"{base_url}/{BROKEN_PATH}",
              "kind": "not_spend", "broken": True, "reason": BROKEN_REASON, "rows": 0,
              "amount_total_pence": 0, "redacted_rows": 0, "date_min": None, "date_max": None,
              "quirks": QUIRKS[FLT]}
    before, after = file_truth(path, first[path], base_url), file_truth(path, second, base_url)
    return {
        "seed": SEED,
        "base_url": base_url,
        "months": [f"{y}-{m:02d}" for y, m in MONTHS],
        "publishers": _publisher_truth(ledger.payments),
        "files": [file_truth(p, rows, base_url) for p, rows in sorted(first.items())] + [broken],
        "flows": flows(ledger.payments),
        "flows_after_republish": flows(ledger.after_republish()),
        "shared_suppliers": _shared_suppliers(ledger.payments),
        "republished": {
            "publisher": NMB, "path": f"www/{path}", "url": f"{base_url}/{path}",
            "change": "one amount corrected (an extra zero keyed on a "
                      f"{MISKEYED_PAYEE} payment) and one late payment added",
            "versions": [before, after],
        },
        "broken": {"publisher": FLT, "url": broken["url"], "reason": BROKEN_REASON},
    }


def _publisher_truth(payments: tuple[Payment, ...]) -> dict:
    summary = {pid: {"name": e["name"], "kind": e["kind"], "rows": 0, "spent_pence": 0,
                     "received_pence": 0, "paid_by": []} for pid, e in PUBLISHERS.items()}
    for p in payments:
        summary[p.payer]["rows"] += 1
        summary[p.payer]["spent_pence"] += p.pence
        if p.payee_id:
            summary[p.payee_id]["received_pence"] += p.pence
            if p.payer not in summary[p.payee_id]["paid_by"]:
                summary[p.payee_id]["paid_by"].append(p.payer)
    return summary


def _shared_suppliers(payments: tuple[Payment, ...]) -> dict[str, list[str]]:
    """Suppliers (not publishers, not redactions) paid by more than one publisher."""
    payers: dict[str, set[str]] = defaultdict(set)
    for p in payments:
        if p.payee_id is None and not p.withheld:
            payers[p.entity].add(p.payer)
    return {name: sorted(who) for name, who in sorted(payers.items()) if len(who) > 1}
