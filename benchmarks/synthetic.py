"""A realistic synthetic warehouse at any size, fast, for benchmarking the published site.

`make_warehouse(path, payments)` writes a SQLite warehouse with the real tables (created by
`warehouse.engine.connect`) and fills them straight through the sqlite3 module, in batches:

- publishers: councils (with populations) and the providers they commission;
- files: one current transactions file per publisher-month, with rows and amounts filled;
- payments: shared out between publishers by size, ~60 services per publisher with a Zipf-like
  skew, ~20,000 suppliers with a Zipf-like popularity (so some search terms are common and some
  rare), log-normal amounts in pence with ~3% credits, ~5% redacted payees, dates over 12 months.

Then, as the pipeline does after every load, `warehouse.flows.rebuild` resolves the payees and
fills suppliers, supplier_aliases and flows (providers are commissioned by councils, so money
flows between publishers). One rare supplier, RARE_SUPPLIER, is planted in exactly RARE_ROWS
rows, for rare-term searches. The same seed always gives the same rows. Rows are generated and
written a file at a time and flushed every BATCH_ROWS, so memory stays flat whatever the size.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
from pathlib import Path

import numpy as np

from sources.registry import Publisher, Registry
from warehouse import flows
from warehouse.engine import connect

RARE_SUPPLIER = "Zyxwvut Rare Widgets Ltd"
RARE_TERM = "Zyxwvut"
RARE_ROWS = 3
BATCH_ROWS = 100_000
SUPPLIERS = 20_000
SERVICES_PER_PUBLISHER = 60
MONTHS = tuple(f"{2024 + (m + 3) // 12}-{(m + 3) % 12 + 1:02d}" for m in range(12))  # Apr-Mar
REDACTED = (("REDACTED PERSONAL DATA", "personal_data"),
            ("REDACTED COMMERCIAL CONFIDENTIALITY", "commercial_confidentiality"))
REDACTED_SHARE = 0.05
NEGATIVE_SHARE = 0.03

PLACES = (
    "Moorland", "Aire", "Calder", "Wharfe", "Pennine", "Northmoor", "Eastfield", "Westbrook",
    "Ridgeway", "Fenland", "Marsh", "Oakley", "Ashford", "Brookside", "Highfield", "Kingsway",
    "Riverside", "Hillcrest", "Greenbank", "Stonebridge", "Millbrook", "Thornton", "Elmwood",
    "Birchfield", "Castleton", "Harbour", "Meadow", "Valley", "Summit", "Lakeside", "Forest",
    "Beacon", "Crown", "Anchor", "Phoenix", "Horizon", "Apex", "Pinnacle", "Vanguard", "Sterling",
    "Albion", "Mercia", "Wessex", "Northumbria", "Cumbria", "Dale", "Heath", "Coastal", "Central",
    "Metro", "County", "Regional", "National", "United", "Premier", "Allied", "Classic", "Modern",
    "Blue", "Green", "Red", "Silver", "Golden", "Bright", "Clear", "Swift", "Rapid", "Total",
)
TRADES = (
    "Energy Supply", "Energy", "Care Homes", "Home Care", "Healthcare", "Building Services",
    "Construction", "Civil Engineering", "Highways", "Surfacing", "Plumbing", "Electrical",
    "Heating", "Roofing", "Glazing", "Cleaning", "Catering", "Foods", "Waste Management",
    "Recycling", "Environmental", "Grounds Maintenance", "Landscapes", "Tree Care", "Transport",
    "Coaches", "Taxis", "Fleet Services", "Motors", "Fuel", "IT Solutions", "Software", "Digital",
    "Telecom", "Print", "Office Supplies", "Furniture", "Consulting", "Legal Services",
    "Accountancy", "Recruitment", "Staffing", "Training", "Education", "Childcare", "Foster Care",
    "Supported Living", "Housing", "Property Services", "Security", "Fire Protection", "Lifts",
    "Water", "Laboratories", "Medical Supplies", "Signs", "Traffic Management", "Leisure",
    "Sports", "Arts", "Events",
)
SUFFIXES = ("Ltd", "Ltd", "Ltd", "Limited", "Limited", "LLP", "plc", "Group Ltd", "Services Ltd",
            "& Co", "CIC", "Trust", "UK Ltd", "(UK) Limited", "Partnership")
SERVICE_AREAS = (
    "Adult Social Care", "Children's Services", "Education", "Highways", "Transport",
    "Waste", "Environment", "Housing", "Planning", "Regeneration", "Public Health", "Leisure",
    "Libraries", "Culture", "Corporate", "Finance", "Legal", "ICT", "Property", "Customer Services",
)
SERVICE_FUNCTIONS = (
    "Residential", "Nursing", "Home Care", "Commissioning", "Operations", "Maintenance",
    "Strategy", "Support", "Management", "Projects", "Contracts", "Administration", "Frontline",
    "Prevention", "Capital Programme",
)
DIRECTORATES = ("Adults and Health", "Children and Families", "Place", "Resources",
                "Communities", "Economy and Environment", "Corporate Services", "Public Health")
EXPENSE_TYPES = (
    "Electricity", "Gas", "Water Services", "Private Contractors", "Agency Staff",
    "Residential Care Placements", "Home Care Packages", "Supported Accommodation",
    "Building Repairs and Maintenance", "Grounds Maintenance", "Highways Maintenance",
    "Waste Disposal", "Vehicle Hire", "Fuel", "Software Licences", "Hardware",
    "Telephones", "Printing and Stationery", "Furniture and Equipment", "Consultancy Fees",
    "Legal Fees", "Training", "Catering", "Cleaning", "Security", "Rents", "Rates",
    "Insurance", "Grants to Voluntary Organisations", "Foster Care Allowances",
    "Transport Contracts", "Capital Works", "Professional Fees", "Subscriptions",
    "Postage", "Advertising", "Equipment Purchase", "Materials", "Clothing and Uniforms",
    "Medical Supplies",
)
PURPOSE_VERBS = ("Supply of", "Provision of", "Payment for", "Contribution to", "Repairs to",
                 "Maintenance of", "Purchase of", "Hire of", "Services for", "Works to")
PURPOSE_OBJECTS = (
    "street lighting energy", "school meals", "residential care", "home care hours",
    "agency social workers", "gritting", "pothole repairs", "bin collections",
    "recycling centre", "library books", "leisure centre", "office cleaning", "IT support",
    "software licences", "mobile phones", "legal advice", "audit", "temporary accommodation",
    "foster placements", "school transport", "bus services", "parks", "playgrounds",
    "tree works", "drainage", "bridges", "traffic signals", "CCTV", "fire alarms", "lifts",
    "boilers", "heating oil", "electricity", "gas supply", "water rates", "business rates",
    "insurance premium", "training courses", "consultancy", "events",
)
COUNCILS = (
    ("Moorfield City Council", 812_000), ("Airedale County Council", 1_104_000),
    ("Calderbrook Metropolitan Borough Council", 531_000),
    ("Wharfeside District Council", 148_000), ("Pennridge Borough Council", 96_000),
    ("Eastmarsh City Council", 642_000), ("Westholme County Council", 774_000),
    ("Kingsford Borough Council", 203_000), ("Fenhaven District Council", 88_000),
    ("Stonehill Metropolitan Borough Council", 326_000), ("Riversmeet City Council", 410_000),
    ("Ashcombe District Council", 121_000), ("Highmoor County Council", 689_000),
    ("Brackenshire County Council", 923_000), ("Northwold Borough Council", 176_000),
    ("Greyhaven City Council", 287_000), ("Thornbury District Council", 104_000),
    ("Oakmere Borough Council", 138_000), ("Saltcliffe Metropolitan Borough Council", 318_000),
    ("Lindenford District Council", 93_000), ("Harrowgate Borough Council", 162_000),
    ("Elmshire County Council", 588_000), ("Cresswell City Council", 254_000),
    ("Dunmoor District Council", 81_000), ("Barrowdale Borough Council", 141_000),
    ("Southmead City Council", 367_000), ("Wolderness District Council", 112_000),
    ("Glenfield Metropolitan Borough Council", 298_000),
)
PROVIDERS = (
    ("Northmoor Leisure Trust", "leisure_trust"), ("Aire Valley Care Homes Ltd", "care_provider"),
    ("Moorfield Homes", "almo"), ("Calder Housing Association", "housing"),
    ("Pennine Learning Academy Trust", "academy_trust"), ("Eastmarsh Community Care CIC",
                                                           "care_provider"),
    ("Highmoor Leisure Ltd", "leisure_trust"), ("Brackenshire Homes", "almo"),
    ("Riversmeet Housing Trust", "housing"), ("Westholme Schools Trust", "academy_trust"),
    ("Greyhaven Supported Living Ltd", "care_provider"), ("Kingsford Active Trust",
                                                          "leisure_trust"),
)
PAYMENT_COLUMNS = (
    "file_id", "publisher_id", "file_sha256", "source_row", "payment_date", "date_precision",
    "amount_pence", "beneficiary_name", "redaction_reason", "beneficiary_type",
    "company_number", "organisation_name", "organisation_code", "department",
    "service_category", "expense_type", "purpose", "transaction_number", "capital_or_revenue",
)


def make_warehouse(path: Path, payments: int, publishers: int = 40, seed: int = 1,
                   resolve: bool = True) -> Path:
    """Write a SQLite warehouse at PATH (replacing any file there) with PAYMENTS payment rows
    spread over PUBLISHERS publishers, the same rows for the same seed; with `resolve`, the
    suppliers, supplier_aliases and flows tables too, as the pipeline derives them."""
    path = Path(path)
    path.unlink(missing_ok=True)
    connect(f"sqlite:///{path}").dispose()
    rng = np.random.default_rng(seed)
    people = _publishers(publishers)
    suppliers = _suppliers(rng, people)
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-200000")
        db.executemany("insert into publishers (id, org_id, name, kind, gss_code, population, "
                       "licence, website, commissioners, status) values (?,?,?,?,?,?,?,?,?,?)",
                       [p["row"] for p in people])
        _payments(db, rng, people, suppliers, payments)
        db.commit()
    finally:
        db.close()
    if resolve:
        derive(path)
    return path


def derive(path: Path) -> flows.FlowSummary:
    """Resolve payees and derive flows with the pipeline's own `warehouse.flows.rebuild`."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        registry = Registry({row[0]: Publisher(id=row[0], org_id=row[1], name=row[2],
                                               kind=row[3], population=row[4],
                                               commissioners=tuple(json.loads(row[5])))
                             for row in db.execute("select id, org_id, name, kind, population, "
                                                   "commissioners from publishers order by rowid")})
    engine = connect(f"sqlite:///{path}")
    try:
        return flows.rebuild(engine, registry)
    finally:
        engine.dispose()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _publishers(count: int) -> list[dict]:
    """Councils first, then providers, in proportion (about 7 councils to 3 providers)."""
    councils = max(1, round(count * 0.7)) if count > 1 else 1
    chosen = []
    for i in range(count):
        if i < councils:
            name, population = COUNCILS[i % len(COUNCILS)]
            kind, weight = "council", population
            org_id = f"GB-LAE-{_slug(name)[:3].upper()}{i:02d}"
        else:
            name, kind = PROVIDERS[(i - councils) % len(PROVIDERS)]
            population, weight = None, 60_000
            org_id = f"GB-COH-{10_000_000 + i * 7919:08d}"
        if i >= len(COUNCILS) + len(PROVIDERS):
            name = f"{name} {i}"  # more publishers than names: still unique
        chosen.append({"id": _slug(name), "name": name, "org_id": org_id, "kind": kind,
                       "weight": weight, "population": population, "commissioners": []})
    councils_by_word = {p["name"].split()[0]: p["id"] for p in chosen if p["kind"] == "council"}
    for i, p in enumerate(chosen):
        if p["kind"] != "council":  # commissioned by the council of its town, else the first
            p["commissioners"] = [councils_by_word.get(p["name"].split()[0], chosen[0]["id"])]
        gss = None if p["population"] is None else f"E0{6_000_000 + i}"
        p["row"] = (p["id"], p["org_id"], p["name"], p["kind"], gss, p["population"], "OGL-UK-3.0",
                    f"https://www.{p['id']}.example/transparency/spending",
                    json.dumps(p["commissioners"]), "ok")
    return chosen


def _suppliers(rng: np.random.Generator, people: list[dict]) -> dict:
    """SUPPLIERS distinct names with a Zipf-like popularity; providers that publish are among
    the popular ones, so money visibly flows from councils to them."""
    names: list[str] = []
    seen = set()
    while len(names) < SUPPLIERS:
        name = (f"{PLACES[rng.integers(len(PLACES))]} {TRADES[rng.integers(len(TRADES))]} "
                f"{SUFFIXES[rng.integers(len(SUFFIXES))]}")
        if len(seen) > len(PLACES) * len(TRADES) * len(SUFFIXES) // 2:
            name = f"{name} {len(names)}"
        key = name.lower()
        if key not in seen:
            seen.add(key)
            names.append(name)
    providers = [p["name"] for p in people if p["kind"] != "council"]
    for rank, name in enumerate(providers):
        names[5 + rank * 7] = name  # ranks 5, 12, 19...: among the top suppliers everywhere
    rank = np.arange(1, SUPPLIERS + 1)
    popularity = 1.0 / (rank + 5) ** 1.05  # the top supplier has ~2% of a publisher's rows
    company = [f"{rng.integers(1, 16_000_000):08d}" if rng.random() < 0.6 else None
               for _ in names]
    kind = ["charity" if n.endswith(("Trust", "CIC")) else "company" for n in names]
    return {"names": np.array(names, dtype=object),
            "upper": np.array([n.upper() for n in names], dtype=object),
            "company": np.array(company, dtype=object), "kind": np.array(kind, dtype=object),
            "p": popularity / popularity.sum()}


def _services(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One publisher's services, their directorates and Zipf-like shares."""
    every = [f"{area} - {function}" for area in SERVICE_AREAS for function in SERVICE_FUNCTIONS]
    picked = rng.choice(len(every), SERVICES_PER_PUBLISHER, replace=False)
    names = np.array([every[i] for i in picked], dtype=object)
    directorates = np.array([DIRECTORATES[SERVICE_AREAS.index(n.split(" - ")[0])
                                          % len(DIRECTORATES)] for n in names], dtype=object)
    share = 1.0 / np.arange(1, SERVICES_PER_PUBLISHER + 1) ** 1.1
    return names, directorates, share / share.sum()


def _payments(db: sqlite3.Connection, rng: np.random.Generator, people: list[dict],
              suppliers: dict, total: int) -> None:
    weights = np.array([p["weight"] for p in people], dtype=float)
    cells = np.outer(weights / weights.sum(), np.full(len(MONTHS), 1 / len(MONTHS))).ravel()
    counts = rng.multinomial(total, cells).reshape(len(people), len(MONTHS))
    planted = {total * (k + 1) // (RARE_ROWS + 1) for k in range(RARE_ROWS)} if total else set()
    purposes = np.array([f"{v} {o}" for v in PURPOSE_VERBS for o in PURPOSE_OBJECTS], dtype=object)
    expense = np.array(EXPENSE_TYPES, dtype=object)
    marks = ",".join("?" * len(PAYMENT_COLUMNS))
    insert = f"insert into payments ({', '.join(PAYMENT_COLUMNS)}) values ({marks})"
    batch: list[tuple] = []
    done = file_id = 0
    for i, person in enumerate(people):
        services, directorates, service_p = _services(rng)
        shouting = rng.random() < 0.3  # some publishers print every name in capitals
        names = suppliers["upper"] if shouting else suppliers["names"]
        serial = 0
        for m, month in enumerate(MONTHS):
            file_id += 1
            n = int(counts[i, m])
            columns, stats = _file_rows(rng, person, month, file_id, n, names, suppliers,
                                        services, directorates, service_p, purposes, expense,
                                        serial)
            for row in sorted(r for r in planted if done <= r < done + n):
                columns["beneficiary_name"][row - done] = RARE_SUPPLIER
                columns["redaction_reason"][row - done] = None
                columns["company_number"][row - done] = "09999999"
            serial += n
            done += n
            _insert_file(db, person, month, file_id, stats)
            batch.extend(zip(*(columns[c] for c in PAYMENT_COLUMNS), strict=True))
            if len(batch) >= BATCH_ROWS:
                db.executemany(insert, batch)
                batch = []
    if batch:
        db.executemany(insert, batch)


def _file_rows(rng, person, month, file_id, n, names, suppliers, services, directorates,
               service_p, purposes, expense, serial) -> tuple[dict, dict]:
    """The columns (lists) of one publisher-month file's N rows, and the file's figures."""
    sha = _sha(person["id"], month)
    who = rng.choice(SUPPLIERS, size=n, p=suppliers["p"])
    service = rng.choice(len(services), size=n, p=service_p)
    pounds = rng.lognormal(mean=6.6, sigma=1.9, size=n)
    pence = np.maximum(1, np.rint(pounds * 100)).astype(np.int64)
    pence = np.minimum(pence, 5_000_000_000)
    pence[rng.random(n) < NEGATIVE_SHARE] *= -1
    redacted = rng.random(n) < REDACTED_SHARE
    reason_pick = rng.random(n) < 0.9
    days = _days(month)
    date = np.array(days, dtype=object)[rng.integers(0, len(days), size=n)]
    beneficiary = names[who]
    reason = np.full(n, None, dtype=object)
    company = suppliers["company"][who]
    kind = suppliers["kind"][who]
    for marker_index, (marker, why) in enumerate(REDACTED):
        hit = redacted & (reason_pick if marker_index == 0 else ~reason_pick)
        beneficiary[hit] = marker
        reason[hit] = why
        company[hit] = None
        kind[hit] = "individual" if marker_index == 0 else None
    purpose = purposes[(who * 7 + service * 13 + rng.integers(0, 5, size=n)) % len(purposes)]
    expense_type = expense[(who + service * 3) % len(expense)]
    capital = np.where(rng.random(n) < 0.08, "Capital", "Revenue").astype(object)
    prefix = person["org_id"][-5:]
    columns = {
        "file_id": [file_id] * n,
        "publisher_id": [person["id"]] * n,
        "file_sha256": [sha] * n,
        "source_row": list(range(2, n + 2)),
        "payment_date": date.tolist(),
        "date_precision": ["day"] * n,
        "amount_pence": pence.tolist(),
        "beneficiary_name": beneficiary.tolist(),
        "redaction_reason": reason.tolist(),
        "beneficiary_type": kind.tolist(),
        "company_number": company.tolist(),
        "organisation_name": [person["name"]] * n,
        "organisation_code": [person["org_id"]] * n,
        "department": directorates[service].tolist(),
        "service_category": services[service].tolist(),
        "expense_type": expense_type.tolist(),
        "purpose": purpose.tolist(),
        "transaction_number": [f"{prefix}-{serial + k:08d}" for k in range(n)],
        "capital_or_revenue": capital.tolist(),
    }
    stats = {"sha": sha, "rows": n, "pence": int(pence.sum()), "redacted": int(redacted.sum()),
             "date_min": min(date) if n else None, "date_max": max(date) if n else None}
    return columns, stats


def _days(month: str) -> list[str]:
    year, number = int(month[:4]), int(month[5:])
    length = [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][number - 1]
    return [f"{month}-{d:02d}" for d in range(1, length + 1)]


def _sha(publisher_id: str, month: str) -> str:
    return hashlib.sha256(f"{publisher_id}/{month}".encode()).hexdigest()


def _insert_file(db: sqlite3.Connection, person: dict, month: str, file_id: int,
                 stats: dict) -> None:
    url = f"https://www.{person['id']}.example/files/spending-{month}.csv"
    end = _days(month)[-1]
    db.execute(
        "insert into files (id, publisher_id, url, sha256, version, fetched_at, status, "
        "schema_name, kind, format, encoding, rows_read, rows_valid, rows_quarantined, "
        "rows_skipped, amount_total_pence, amount_valid_pence, date_min, date_max, "
        "redacted_rows, score, missing_fields, columns, report) "
        "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (file_id, person["id"], url, stats["sha"], 1, f"{end}T09:00:00+00:00", "current",
         "spend", "transactions", "csv", "utf-8", stats["rows"], stats["rows"], 0, 0,
         stats["pence"], stats["pence"], stats["date_min"], stats["date_max"],
         stats["redacted"], 100, "[]", json.dumps({}), None))
