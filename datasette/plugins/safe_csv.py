"""A spreadsheet-safe CSV export: no cell can run as a formula when a resident opens the file.

Every table and query page offers "This data as ... spreadsheet": the same rows as Datasette's
own CSV link, with any text cell that begins with =, +, -, @, a tab or a carriage return
prefixed by a single quote ', so Excel, LibreOffice and Google Sheets show it as text instead
of running it (CSV injection). Numbers stay numbers: "-12.50" or -1250 is left alone. The file
starts with a UTF-8 byte-order mark so Excel reads £ and accented names correctly.

Datasette's own CSV export is left exactly as the data is: it is what programs read, and a
quote added there would change the data they get. docs/site.md and docs/reliability.md say so.
"""

import csv
import io
import re
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.utils.asgi import Response

EXTENSION = "spreadsheet"
# What a spreadsheet takes for the start of a formula; tab and CR because some strip them first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
BOM = "\ufeff"


def spreadsheet_safe(cell: str) -> str:
    """The cell as a spreadsheet will show it and never run it."""
    if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _csv_path(request) -> str:
    # The same page's own CSV: same filters, sort and labels; a page of up to max_returned_rows
    # as Datasette's CSV link gives, or every row with _stream=on.
    arguments = parse_qsl(request.query_string, keep_blank_values=True)
    if not {"_stream", "_size"} & {key for key, _ in arguments}:
        arguments.append(("_size", "max"))
    path = request.path.removesuffix(f".{EXTENSION}") + ".csv"
    return f"{path}?{urlencode(arguments)}"


async def render_spreadsheet(datasette, request, table, query_name):
    answer = await datasette.client.get(_csv_path(request))
    if answer.status_code != 200:
        return Response.text(answer.text, status=answer.status_code)
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(answer.text, newline="")):
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    name = table or query_name or "query"
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{name}.csv"'})


def can_render_spreadsheet(columns) -> bool:
    return bool(columns)


@hookimpl
def register_output_renderer(datasette):
    return {"extension": EXTENSION, "render": render_spreadsheet,
            "can_render": can_render_spreadsheet}
