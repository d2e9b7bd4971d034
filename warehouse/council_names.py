"""Regenerate warehouse/data/council_names.csv from mySociety's local-authority reference.

`python -m warehouse.council_names ../shared/reference` writes every name a council is known
by (official, nice, and the 1,775 alternative names) against its org-id, so payees that are
councils link to registry publishers. Data: mySociety, CC-BY-4.0.
"""

import csv
import io
import sys
from pathlib import Path

from warehouse.resolution import COUNCIL_NAMES

SCHEMES = {"England": "GB-LAE", "Scotland": "GB-LAS", "Wales": "GB-PLA",
           "Northern Ireland": "GB-LANI"}


def council_names(reference: Path) -> str:
    """The CSV text (org_id,name) built from the reference folder."""
    folder = Path(reference) / "mysociety-uk-la-codes"
    with (folder / "uk_local_authorities_current.csv").open(encoding="utf-8") as rows:
        councils = list(csv.DictReader(rows))
    scheme = {row["local-authority-code"]: SCHEMES.get(row["nation"]) for row in councils}
    pairs = set()
    for row in councils:
        for name in (row["official-name"], row["nice-name"]):
            pairs.add((row["local-authority-code"], name))
    with (folder / "lookup_name_to_registry.csv").open(encoding="utf-8") as rows:
        pairs |= {(row["local-authority-code"], row["la-name"]) for row in csv.DictReader(rows)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["org_id", "name"])
    for code, name in sorted(pairs):
        if scheme.get(code) and name.strip():
            writer.writerow([f"{scheme[code]}-{code}", name.strip()])
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    reference = Path(args[0] if args else "../shared/reference")
    COUNCIL_NAMES.parent.mkdir(parents=True, exist_ok=True)
    COUNCIL_NAMES.write_text(council_names(reference), encoding="utf-8")
    print(f"wrote {COUNCIL_NAMES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
