"""Render a validation report for a person at a terminal."""

from __future__ import annotations

from schemas.money import pence_to_pounds
from schemas.report import FileReport, skip_reason_text

ARROW = "->"


def render_text(report: FileReport) -> str:
    """A readable report: what was found, what is wrong, and where."""
    data = report.to_json()
    verdict = "PASS" if data["passed"] else "FAIL"
    lines = [f"{data['file']}", f"  {data['verdict']}",
             f"  {verdict}  kind {data['kind']}  score {data['score']}/100"]
    if data["failure"] and not data["columns"]:
        return "\n".join(lines)
    lines += _found(data) + _columns(data) + _rows(data) + _problems(data)
    return "\n".join(lines)


def _found(data: dict) -> list[str]:
    tables = data["tables"]
    rows = {t["header_row"] for t in tables}
    if len(tables) > 3 and len(rows) == 1:
        where = (f"{len(tables)} sheets ({tables[0]['sheet']!r} to {tables[-1]['sheet']!r}), "
                 f"header on row {rows.pop()} of each")
    else:
        where = ", ".join(_where_header(t) for t in tables) or "no table with a spend header"
    encoding = f", encoding {data['encoding']}" if data["encoding"] else ""
    return [f"  format {data['format']}{encoding}; {where}"]


def _where_header(table: dict) -> str:
    sheet = f"{table['sheet']!r} " if table["sheet"] else ""
    if table["header_row"] is None:
        return f"{sheet}no header row: columns inferred from what they hold"
    return f"{sheet}header on {'row' if table['sheet'] else 'line'} {table['header_row']}"


def _columns(data: dict) -> list[str]:
    lines = ["  columns:"]
    for column in data["columns"]:
        target = (f"{column['field']} ({column['how']})" if column["field"]
                  else f"kept in extra ({column['how']})")
        note = f"  [{column['note']}]" if column["note"] else ""
        lines.append(f"    {column['header']!r:40} {ARROW} {target}{note}")
    missing = data["missing_mandatory_fields"]
    if missing:
        lines.append(f"  missing mandatory Transparency Code fields: {', '.join(missing)}")
    return lines


def _rows(data: dict) -> list[str]:
    skipped = ", ".join(f"{n} {skip_reason_text(r)}" for r, n in data["skipped"].items())
    lines = [
        f"  rows: {data['rows_read']} read, {data['rows_valid']} valid, "
        f"{data['rows_quarantined']} quarantined, {data['rows_skipped']} skipped"
        + (f" ({skipped})" if skipped else ""),
        f"  amount total: {pence_to_pounds(data['amount_total_pence'])} "
        f"(valid rows {pence_to_pounds(data['amount_valid_pence'])})",
    ]
    if data["date_min"]:
        order = {"DMY": "day first", "MDY": "MONTH FIRST"}.get(data["date_order"], "")
        lines.append(f"  dates: {data['date_min']} to {data['date_max']} ({order})")
    if data["redacted_rows"]:
        reasons = ", ".join(f"{n} {r}" for r, n in data["redactions"].items())
        lines.append(f"  redacted payees: {data['redacted_rows']} ({reasons})")
    if data.get("personal_rows"):
        reasons = ", ".join(f"{n} {r}" for r, n in data["personal"].items())
        lines.append(f"  PRIVATE INDIVIDUALS named: {data['personal_rows']} rows ({reasons}), "
                     f"at {_places(data['personal_examples'])}. Withhold these names before "
                     "publishing (docs/reliability.md#privacy).")
    return lines


def _places(examples: list[dict]) -> str:
    """Every row, sheet by sheet, runs of rows joined: 'rows 4-9, 12; sheet Q2 rows 3, 5'."""
    by_sheet: dict[str | None, list[int]] = {}
    for example in examples:
        by_sheet.setdefault(example.get("sheet"), []).append(example["row"])
    return "; ".join(f"{f'sheet {sheet} ' if sheet else ''}rows {_runs(sorted(rows))}"
                     for sheet, rows in by_sheet.items())


def _runs(rows: list[int]) -> str:
    runs: list[list[int]] = []
    for row in rows:
        if runs and row == runs[-1][-1] + 1:
            runs[-1].append(row)
        else:
            runs.append([row])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def _problems(data: dict) -> list[str]:
    lines = []
    for error in data["errors"]:
        lines.append(f"  error: {error['field']} {error['type']} in {error['count']} rows; "
                     f"expected {error['expected']}")
        for example in error["examples"]:
            place = f"{example['sheet']}:" if example["sheet"] else "row "
            lines.append(f"      {place}{example['row']}  {example['value']!r}")
    for warning in data["field_warnings"]:
        lines.append(f"  warning: {warning['field']} {warning['type']} in {warning['count']} "
                     f"rows; expected {warning['expected']}. Read as empty (the payments are "
                     "loaded; the text is kept in extra)")
        for example in warning["examples"]:
            place = f"{example['sheet']}:" if example["sheet"] else "row "
            lines.append(f"      {place}{example['row']}  {example['value']!r}")
    for warning in data["warnings"]:
        lines.append(f"  warning: {warning['count']} {warning['message']}")
    lines += [f"  note: {note}" for note in data["notes"]]
    return lines
