"""Generate the Markdown reference pages in docs/schemas/ from the schema descriptors."""

import argparse
import sys
from pathlib import Path

from schemas.descriptors import SCHEMA_DIR, SCHEMA_NAMES, load_descriptor, mandatory_requirements

DOCS_DIR = SCHEMA_DIR.parent / "docs" / "schemas"
INDEX_PAGE = "README.md"
REGENERATE = "python -m schemas.docs"

# Schemas whose fields carry a mapping property get an extra column: (heading, property).
MAPPING_COLUMNS = {
    "grant": ("360Giving", "threeSixtyGiving"),
    "payment": ("from", "moneytrail:from"),
}

FIELDS_MATCH_NOTES = {
    "partial": "columns are matched by name, in any order; a file may leave out optional "
    "fields and carry extra columns, but a required field's column must be there.",
    "exact": "a file must have every field as a column, in this order.",
}


def _cell(value: object) -> str:
    """Make `value` safe inside a Markdown table cell."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _code(value: object) -> str:
    return f"`{value}`"


def _table(headings: list[str], rows: list[list[str]]) -> str:
    lines = [headings, ["---"] * len(headings), *rows]
    return "\n".join("| " + " | ".join(_cell(c) for c in line) + " |" for line in lines)


def _link(item: dict) -> str:
    return f"[{item.get('title', item.get('name'))}]({item['path']})"


def _type_cell(field: dict) -> str:
    fmt = field.get("format", "default")
    return field["type"] if fmt == "default" else f"{field['type']} ({_code(fmt)})"


def _required_cell(field: dict) -> str:
    required = "yes" if field["constraints"].get("required") else "no"
    status = field.get("transparencyCode")
    return f"{required}; Code: {status}" if status else required


def _constraints_cell(field: dict) -> str:
    notes = [
        f"{key}: {', '.join(map(_code, value)) if isinstance(value, list) else _code(value)}"
        for key, value in field["constraints"].items()
        if key != "required"
    ]
    if "trueValues" in field:
        notes.append(f"true: {', '.join(map(_code, field['trueValues']))}")
        notes.append(f"false: {', '.join(map(_code, field['falseValues']))}")
    if field.get("bareNumber") is False:
        notes.append(f"£ signs and {_code(field['groupChar'])} thousands separators tolerated")
    return "; ".join(notes)


def _field_row(field: dict, mapping: str | None) -> list[str]:
    row = [
        _code(field["name"]),
        field["title"],
        _type_cell(field),
        _required_cell(field),
        _constraints_cell(field),
        _code(field["example"]),
        field["description"],
    ]
    if mapping:
        value = field.get(mapping)
        row.insert(2, _code(value) if value else "none")
    return row


def _fields_section(name: str, descriptor: dict) -> str:
    headings = ["field", "title", "type", "required", "constraints", "example", "description"]
    heading, mapping = MAPPING_COLUMNS.get(name, (None, None))
    if heading:
        headings.insert(2, heading)
    rows = [_field_row(field, mapping) for field in descriptor["fields"]]
    return "## Fields\n\n" + _table(headings, rows)


def _requirements_section(name: str) -> str:
    requirements = mandatory_requirements(name)
    if not requirements:
        return ""
    rows = [
        [r["requirement"], ", ".join(map(_code, r["anyOf"])), r.get("description", "")]
        for r in requirements
    ]
    intro = (
        "## Transparency Code requirements\n\n"
        "A file meets a requirement when it has a column for any one of the listed fields. "
        "`moneytrail validate` reports the requirements a file misses.\n\n"
    )
    return intro + _table(["requirement", "any of", "guidance"], rows)


def _summary(name: str, descriptor: dict) -> str:
    fields_match = descriptor.get("fieldsMatch", "exact")
    lines = [
        f"- **Name:** {_code(name)}",
        f"- **Version:** {descriptor['version']}",
        f"- **Licence:** {', '.join(map(_link, descriptor['licenses']))}",
        f"- **Schema:** [`schemas/{name}.json`](../../schemas/{name}.json)",
        f"- **Example file:** [`schemas/examples/{name}.csv`](../../schemas/examples/{name}.csv)",
        f"- **Columns (fieldsMatch {_code(fields_match)}):** {FIELDS_MATCH_NOTES[fields_match]}",
    ]
    if "primaryKey" in descriptor:
        lines.append(f"- **Primary key:** {', '.join(map(_code, descriptor['primaryKey']))}")
    if "sources" in descriptor:
        lines.append(f"- **Sources:** {'; '.join(map(_link, descriptor['sources']))}")
    return "\n".join(lines)


def render(name: str) -> str:
    """Return the Markdown reference page for schema `name`."""
    descriptor = load_descriptor(name)
    sections = [
        f"# {descriptor['title']}",
        f"<!-- Generated from schemas/{name}.json by `{REGENERATE}`; do not edit. -->",
        descriptor["description"],
        _summary(name, descriptor),
        _requirements_section(name),
        _fields_section(name, descriptor),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


INDEX_INTRO = f"""# Schemas

<!-- Generated by `{REGENERATE}`; do not edit. -->

Open [Frictionless Table Schemas](https://specs.frictionlessdata.io/table-schema/) for the
spending data that the Local Government Transparency Code 2015 requires councils to publish,
built on the LGA transparency guidance and the LGA / esd Spend and Contracts schemas. Any council
can reuse them as they are: they need nothing but the Frictionless tools. All are published
under the Open Government Licence v3.0.
"""

INDEX_USAGE = """## Validating a file

With plain [Frictionless](https://framework.frictionlessdata.io/) (v5), from a folder that holds
your file and a copy of this `schemas/` folder:

```
frictionless validate --schema schemas/spend.json yourfile.csv
```

Frictionless reports each cell that does not fit, by row and field: a date that is not
dd/mm/yyyy, an amount that is not a number, an empty required cell. The schemas declare
`fieldsMatch: partial`, so columns are matched by name and a file need not carry every field.
Frictionless refuses absolute paths and paths containing `..` unless you add `--trusted`.

With moneytrail, which also reports the mandatory Transparency Code fields a file has no
column for:

```
moneytrail validate yourfile.csv --schema spend
```

`frictionless validate schemas/datapackage.json` checks every schema against its example file.

## Conventions

- Dates are dd/mm/yyyy (`%d/%m/%Y`), as the LGA guidance recommends; the payment schema uses
  ISO dates.
- Amounts are pounds and pence with a leading minus for credits, e.g. `-26123.45`; the payment
  schema holds integer pence.
- An empty cell is a missing value.
- Custom properties: `transparencyCode` (the Code's mandatory requirements, and each field's
  status under them), `threeSixtyGiving` (grant fields' 360Giving columns) and
  `moneytrail:from` (the spend field each payment field is converted from).
"""


def render_index() -> str:
    """Return the Markdown index page that lists every schema."""
    rows = []
    for name in SCHEMA_NAMES:
        descriptor = load_descriptor(name)
        rows.append([
            f"[{name}]({name}.md)",
            descriptor["title"],
            descriptor["version"],
            str(len(descriptor["fields"])),
        ])
    listing = _table(["schema", "title", "version", "fields"], rows)
    return "\n".join([INDEX_INTRO, listing, "", INDEX_USAGE])


def render_all() -> dict[str, str]:
    """Return every page, keyed by its file name in docs/schemas/."""
    pages = {f"{name}.md": render(name) for name in SCHEMA_NAMES}
    pages[INDEX_PAGE] = render_index()
    return pages


def stale_pages(out_dir: Path) -> list[Path]:
    """Return the pages in `out_dir` that are missing or differ from the schemas."""
    stale = []
    for filename, text in render_all().items():
        path = out_dir / filename
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


def write_pages(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for filename, text in render_all().items():
        (out_dir / filename).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 and name the pages that are out of date"
    )
    parser.add_argument("--out-dir", type=Path, default=DOCS_DIR, help="where the pages go")
    args = parser.parse_args(argv)
    if not args.check:
        write_pages(args.out_dir)
        return 0
    stale = stale_pages(args.out_dir)
    for path in stale:
        print(f"{path} is out of date: run `{REGENERATE}`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
