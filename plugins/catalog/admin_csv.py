"""The catalog's CSV import and export from the admin (``catalog.manage``): the same
file and the same checks as ``mercato catalog import|export`` (``csvio``).

The export is streamed: it runs after the request's transaction, on a connection of
its own in one REPEATABLE READ snapshot, so a large catalog never sits in memory and
a product saved during the download does not appear half old, half new. The import
reads at most ``mercato.catalog.upload_max_bytes``, checks every row before it writes
anything, and answers 400 (aborting the transaction) if any row is bad.
"""

import csv
import io
from collections.abc import Iterator
from datetime import date

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import csvio
from .admin import require_staff_pages
from .images import human_size
from .models import Product, Variant

MANAGE = "catalog.manage"
# Room for the multipart envelope and the CSRF field around the file.
FORM_OVERHEAD = 64 * 1024
# Spreadsheet files people pick by mistake: a zip (xlsx, ods) or an OLE file (xls).
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


class FileRefused(Exception):
    """The upload cannot be read as a CSV file; the message says why and what to do."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _max_bytes(request) -> int:
    return request.registry.settings["mercato.catalog"]["upload_max_bytes"]


def _page(request, *, problem=None, errors=(), filename="", status=200):
    value = {
        "columns": csvio.COLUMNS,
        "required": csvio.REQUIRED,
        "max_size": human_size(_max_bytes(request)),
        "problem": problem,
        "errors": errors,
        "errors_capped": len(errors) >= csvio.MAX_ERRORS,
        "filename": filename,
        "counts": None,
    }
    if status == 200:
        # Only on a clean page: after a refused import the session holds rows that
        # the aborted transaction is about to throw away.
        session = request.dbsession
        value["counts"] = (
            session.scalar(select(func.count()).select_from(Product)),
            session.scalar(select(func.count()).select_from(Variant)),
        )
    response = render_to_response("catalog/admin_csv.jinja2", value, request=request)
    response.status_int = status
    response.cache_control.no_store = True
    return response


@view_config(route_name="catalog_admin_csv", request_method="GET", permission=MANAGE)
def csv_page(request):
    require_staff_pages(request)
    return _page(request)


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data


def export_chunks(engine) -> Iterator[bytes]:
    """The export file, a page of products at a time. Nothing runs (not even the
    connection) until the server starts sending, after the request's transaction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csvio.COLUMNS)
    yield _take(buffer)
    with engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with Session(bind=connection) as session:
            for rows in csvio.export_pages(session):
                writer.writerows(rows)
                yield _take(buffer)


@view_config(route_name="catalog_admin_csv_export", request_method="GET", permission=MANAGE)
def export_csv(request):
    require_staff_pages(request)
    response = Response(
        content_type="text/csv",
        charset="utf-8",
        app_iter=export_chunks(request.registry.db_engine),
    )
    response.content_disposition = f'attachment; filename="catalog-{date.today()}.csv"'
    response.cache_control.no_store = True
    return response


def _read_upload(request) -> tuple[str, str]:
    """The uploaded file's name and text; ``FileRefused`` when there is none, it is
    too large, a spreadsheet, or not UTF-8."""
    max_bytes = _max_bytes(request)
    too_large = FileRefused(
        f"The file is larger than {human_size(max_bytes)}: split it into smaller files.", 413
    )
    if request.content_length and request.content_length > max_bytes + FORM_OVERHEAD:
        raise too_large
    upload = request.POST.get("file")
    if upload is None or isinstance(upload, str) or not getattr(upload, "file", None):
        raise FileRefused("Choose a CSV file to import.")
    name = (upload.filename or "")[-200:]
    try:
        data = upload.file.read(max_bytes + 1)
    finally:
        upload.file.close()  # WebOb's temporary file, done with
    if len(data) > max_bytes:
        raise too_large
    if not data.strip():
        raise FileRefused("The file is empty.")
    if data.startswith(WORKBOOK_MAGIC):
        raise FileRefused(
            "This is a spreadsheet workbook, not a CSV file: in your spreadsheet, "
            "save it as “CSV UTF-8” and upload that."
        )
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRefused(
            f"The file is not UTF-8 text (line {line} has a character that is not): "
            "save it as “CSV UTF-8” and upload it again."
        ) from None


def _summary(name: str, counts: dict) -> str:
    def part(noun: str) -> str:
        created, updated = counts[f"{noun}s_created"], counts[f"{noun}s_updated"]
        return f"{created} {noun}{'' if created == 1 else 's'} created, {updated} updated"

    return f"Imported {name or 'the file'}: {part('product')}; {part('variant')}."


@view_config(route_name="catalog_admin_csv", request_method="POST", permission=MANAGE)
def import_csv(request):
    require_staff_pages(request)
    try:
        name, text = _read_upload(request)
    except FileRefused as exc:
        return _page(request, problem=str(exc), status=exc.status)
    currency = request.registry.settings["mercato.currency"]
    try:
        rows = csvio.parse(io.StringIO(text, newline=""), currency)
        counts = csvio.apply(request.dbsession, rows, currency)
    except csvio.ImportFailed as exc:
        # The 400 aborts the transaction: whatever ``apply`` wrote before is undone.
        return _page(request, errors=exc.errors, filename=name, status=400)
    request.session.flash(_summary(name, counts))
    return HTTPSeeOther(request.route_path("catalog_admin_csv"))
