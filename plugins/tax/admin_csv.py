"""CSV import (``tax.manage``) and export (``tax.view``) of the rates table.

The import checks the whole file before writing a row; "Check only" shows what the
file would change and writes nothing. A refused file answers 400 (413 when too large)
with each bad line and why.
"""

import csv
import io
from datetime import date

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response
from pyramid.view import view_config

from . import csvio
from .admin import MANAGE, VIEW, require_staff_pages, respond

MAX_BYTES = 1024 * 1024  # a table of every country and US state is about 5 KB
FORM_OVERHEAD = 64 * 1024  # the multipart envelope and the other fields
# Spreadsheet files people pick by mistake: a zip (xlsx, ods) or an OLE file (xls).
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
TRUE = ("1", "true", "on", "yes")


def _page(request, *, errors=(), changes=None, filename="", status=200):
    value = {
        "columns": csvio.COLUMNS,
        "required": csvio.REQUIRED,
        "errors": errors,
        "errors_capped": len(errors) >= csvio.MAX_ERRORS,
        "changes": changes,
        "filename": filename,
    }
    return respond(request, "tax/admin_import.jinja2", value, status)


@view_config(route_name="tax_admin_import", request_method="GET", permission=MANAGE)
def import_page(request):
    require_staff_pages(request)
    return _page(request)


def _read_upload(request) -> tuple[str, str]:
    """The file's name and text, or ``ImportFailed`` (``status`` 413 when too large)."""
    too_large = csvio.ImportFailed([(0, "The file is larger than 1 MB: split it.")], 413)
    if request.content_length and request.content_length > MAX_BYTES + FORM_OVERHEAD:
        raise too_large
    upload = request.POST.get("file")
    if upload is None or isinstance(upload, str) or not getattr(upload, "file", None):
        raise csvio.ImportFailed([(0, "Choose a CSV file to import.")])
    name = (upload.filename or "")[-200:]
    try:
        data = upload.file.read(MAX_BYTES + 1)
    finally:
        upload.file.close()
    if len(data) > MAX_BYTES:
        raise too_large
    if data.startswith(WORKBOOK_MAGIC):
        raise csvio.ImportFailed(
            [(0, "This is a spreadsheet workbook: save it as “CSV UTF-8” and upload that.")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise csvio.ImportFailed(
            [(line, "This line is not UTF-8 text: save the file as “CSV UTF-8”.")]
        ) from None
    if not text.strip():
        raise csvio.ImportFailed([(0, "The file is empty.")])
    return name, text


@view_config(route_name="tax_admin_import", request_method="POST", permission=MANAGE)
def import_csv(request):
    require_staff_pages(request)
    name = ""
    check_only = (request.POST.get("check_only") or "").lower() in TRUE
    try:
        name, text = _read_upload(request)
        rows = csvio.parse(text)
    except csvio.ImportFailed as exc:
        return _page(request, errors=exc.errors, filename=name, status=exc.status)
    session = request.dbsession
    if check_only:
        return _page(request, changes=csvio.plan(session, rows), filename=name)
    changes = csvio.apply(session, rows)
    counts = {outcome: 0 for outcome in ("created", "updated", "unchanged")}
    for change in changes:
        counts[change.outcome] += 1
    request.session.flash(
        f"Imported {name or 'the file'}: {counts['created']} rates added, "
        f"{counts['updated']} changed, {counts['unchanged']} already so."
    )
    return HTTPSeeOther(request.route_path("tax_admin"))


@view_config(route_name="tax_admin_export", request_method="GET", permission=VIEW)
def export_csv(request):
    require_staff_pages(request)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(csvio.export_rows(request.dbsession))
    response = Response(
        body=buffer.getvalue().encode("utf-8"), content_type="text/csv", charset="utf-8"
    )
    response.content_disposition = f'attachment; filename="tax-rates-{date.today()}.csv"'
    response.cache_control.no_store = True
    return response
