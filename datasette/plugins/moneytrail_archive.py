"""Datasette plugin for the moneytrail site: the archived copy of every file it loaded, by its
SHA-256, at /-/archive/<sha256>/<file name> (warehouse/archived_copies.py says which)."""

from html import escape
from urllib.parse import unquote

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response, asgi_send_file
from markupsafe import Markup

from warehouse.archived_copies import (
    ROUTE,
    content_disposition,
    content_type,
    find,
    original_name,
    stored_copy,
)
from warehouse.site import COMBINED

# Plugin routes come before Datasette's own, and no database can be called "-", so nothing
# else answers under /-/archive/: every path there is this plugin's to answer, 404 included.
ARCHIVE_ROUTE = rf"^{ROUTE}/(?P<rest>.*)$"
CHUNK_BYTES = 256 * 1024
# Third parties' bytes, served from the site's own origin: always a download, never sniffed
# as a page, and sandboxed should a browser show one anyway.
COPY_HEADERS = {"x-content-type-options": "nosniff", "content-security-policy": "sandbox",
                "cache-control": "public, max-age=3600"}
WITHHELD_STATUS = 451


@hookimpl
def register_routes():
    return [(ARCHIVE_ROUTE, archived_copy)]


async def archived_copy(datasette, request, send):
    """The archived bytes of a file the site loaded, streamed; a page saying why when the site
    withholds them; 404 for any checksum or name the site's `files` table does not list."""
    sha256, slash, name = request.url_vars["rest"].partition("/")
    found = await find(datasette.databases.get(COMBINED), sha256)
    if found is None or (slash and unquote(name) not in found.names):
        raise NotFound("This site loaded no file with that SHA-256 and name")
    if found.withheld:
        html = await datasette.render_template("archived_copy_withheld.html", {
            "found": found, "file_name": original_name(found.url, found.sha256)},
            request=request)
        return Response.html(html, status=WITHHELD_STATUS)
    path = stored_copy(found)
    if path is None:
        raise NotFound("This site keeps no copy of that file: it was loaded from a local file, "
                       "or the site is served without its archive")
    headers = {**COPY_HEADERS, "content-disposition": content_disposition(
        unquote(name) if slash else original_name(found.url, found.sha256))}
    await asgi_send_file(send, path, content_type=content_type(found.format),
                         chunk_size=CHUNK_BYTES, headers=headers)


@hookimpl
def render_cell(value, column, table, datasette):
    """A file's SHA-256 on the site, with a link to its archived copy (or to why it is
    withheld)."""
    if table != "files" or column != "sha256" or not isinstance(value, str):
        return None

    async def linked():
        found = await find(datasette.databases.get(COMBINED), value)
        if found is None or (not found.withheld and stored_copy(found) is None):
            return None
        words = "archived copy withheld" if found.withheld else "archived copy"
        return Markup(f'<code class="sha256">{escape(value)}</code> <a class="archived-copy" '
                      f'href="{escape(found.path)}">{words}</a>')

    return linked
