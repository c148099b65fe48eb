"""Bulk stock edit for staff (``catalog.manage``): a filtered page of variants, one
stock field each, saved by one POST.

Two rules:

* A sale made while the form was open is never lost. Each row carries the stock it
  was shown with; the save adds the *difference* (``stock + (new - shown)``) with the
  same kind of guarded UPDATE as a checkout, so it can never go below zero, and a row
  that would is refused with the count that is left now.
* All or nothing. Every row is checked before anything is written, and any refused
  row answers 400, which aborts the request's transaction (``tm.commit_veto``): the
  rows already updated are rolled back with it.
"""

from dataclasses import dataclass

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import contains_eager

from . import events
from .admin import require_staff_pages
from .admin_widgets import low_stock
from .models import Product, Variant
from .search import InvalidParameter, clean_query, parse_page
from .views import query_params

MANAGE = "catalog.manage"
PAGE_SIZE = 50
MAX_INPUT = 1_000_000
# The column is a 32-bit integer: a guard keeps ``stock + delta`` inside it, so an
# absurd but valid pair of numbers is a refused row, not a database error.
MAX_COLUMN = 2**31 - 1
# A form holds one page; far more rows than that is not a form a person filled in.
MAX_ROWS = 10 * PAGE_SIZE
TRUE = ("1", "true", "on", "yes")


@dataclass
class Filters:
    q: str = ""
    low: bool = False
    page: int = 1

    def query(self, page: int | None = None) -> dict:
        """The query string that shows this selection (defaults left out)."""
        values = {"q": self.q, "low": "1" if self.low else "", "page": page or self.page}
        return {k: v for k, v in values.items() if v and (k != "page" or v > 1)}


@dataclass
class Row:
    variant: Variant
    value: str  # what the stock field shows
    shown: str  # the stock the form was rendered with (hidden field)
    error: str | None = None
    note: str | None = None


def _filters(request) -> tuple[Filters, str | None]:
    params = query_params(request)
    filters = Filters(q=clean_query(params.get("q")), low=(params.get("low") or "").lower() in TRUE)
    try:
        filters.page = parse_page(params.get("page"))
    except InvalidParameter as exc:
        return filters, str(exc)
    return filters, None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _selection(filters: Filters, threshold: int):
    query = select(Variant).join(Variant.product).options(contains_eager(Variant.product))
    if filters.q:
        like = _like(filters.q)
        query = query.where(or_(Variant.sku.ilike(like), Product.name.ilike(like)))
    if filters.low:
        query = query.where(Variant.stock <= threshold)
    return query.order_by(Product.name, Product.id, Variant.position, Variant.id)


def _render(request, filters, rows, *, total=None, error=None, status=200):
    pages = max(1, -(-total // PAGE_SIZE)) if total is not None else None
    links = {}
    if pages is not None:
        route = "catalog_admin_stock"
        if filters.page > 1:
            links["prev"] = request.route_path(route, _query=filters.query(filters.page - 1))
        if filters.page < pages:
            links["next"] = request.route_path(route, _query=filters.query(filters.page + 1))
    value = {
        "filters": filters,
        "rows": rows,
        "total": total,
        "pager": {"page": filters.page, "pages": pages or 1},
        "links": links,
        "error": error,
        "refused": sum(1 for row in rows if row.error),
        "low_stock": low_stock(request),
        "max_input": MAX_INPUT,
        "action": request.route_path("catalog_admin_stock", _query=filters.query()),
    }
    response = render_to_response("catalog/admin_stock.jinja2", value, request=request)
    response.status_int = status
    response.cache_control.no_store = True
    return response


@view_config(route_name="catalog_admin_stock", request_method="GET", permission=MANAGE)
def stock_page(request):
    require_staff_pages(request)
    filters, error = _filters(request)
    if error:
        return _render(request, filters, [], error=error, status=400)
    session = request.dbsession
    query = _selection(filters, low_stock(request))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    variants = session.scalars(query.limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE))
    rows = [Row(v, str(v.stock), str(v.stock)) for v in variants]
    return _render(request, filters, rows, total=total)


def _whole(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    return int(text)


def _posted_rows(request) -> tuple[list[Row], str | None]:
    """The form's rows, in the form's order, each checked; or a reason the whole form
    cannot be read."""
    post = request.POST
    ids = list(dict.fromkeys(post.getall("variant")))
    if not ids or len(ids) > MAX_ROWS or not all(_whole(i) is not None for i in ids):
        return [], "The form is incomplete: reload the page and enter the stock again."
    found = {
        v.id: v
        for v in request.dbsession.scalars(
            select(Variant)
            .join(Variant.product)
            .options(contains_eager(Variant.product))
            .where(Variant.id.in_([int(i) for i in ids]))
        )
    }
    rows, gone = [], 0
    for raw_id in ids:
        value = (post.get(f"v{raw_id}-stock") or "").strip()
        shown = (post.get(f"v{raw_id}-stock_was") or "").strip()
        variant = found.get(int(raw_id))
        if variant is None:
            # Deleted while the form was open: harmless unless its stock was edited.
            gone += value != shown
            continue
        row = Row(variant, value, shown)
        new, was = _whole(value), _whole(shown)
        if was is None or was > MAX_COLUMN:
            row.error = "The form is incomplete: reload the page."
        elif new is None:
            row.error = "Write a whole number of 0 or more, such as 12."
        elif new > MAX_INPUT and new != was:
            row.error = f"The stock must be between 0 and {MAX_INPUT:,}."
        elif variant.stock != was:
            row.note = f"{variant.stock} in stock now; your change applies to that."
        rows.append(row)
    if gone:
        return rows, "A variant you changed was deleted meanwhile: reload the page."
    return rows, None


def _apply(session, row: Row) -> int | None:
    """Add the row's change to the stock; the new stock, or None when refused."""
    delta = int(row.value) - int(row.shown)
    guards = [Variant.id == row.variant.id, Variant.stock >= -delta]
    if delta > 0:
        guards.append(Variant.stock <= MAX_COLUMN - delta)
    return session.execute(
        update(Variant)
        .where(*guards)
        .values(stock=Variant.stock + delta)
        .returning(Variant.stock)
        .execution_options(synchronize_session=False)
    ).scalar()


def _refusal(session, row: Row) -> str:
    now = session.scalar(select(Variant.stock).where(Variant.id == row.variant.id))
    if now is None:
        return "This variant was deleted meanwhile: reload the page."
    delta = int(row.value) - int(row.shown)
    # The row starts again from what is there now, so a resubmission means what it shows.
    row.value = row.shown = str(now)
    row.note = None
    if delta < 0:
        return (
            f"Units were sold meanwhile: {now} left now, so taking {-delta} off would go "
            "below zero. Enter the new count."
        )
    return f"The stock rose to {now} meanwhile and adding {delta} is too many: enter the count."


@view_config(route_name="catalog_admin_stock", request_method="POST", permission=MANAGE)
def save_stock(request):
    require_staff_pages(request)
    filters, _ = _filters(request)
    session = request.dbsession
    rows, problem = _posted_rows(request)
    if problem or any(row.error for row in rows):
        return _render(request, filters, rows, error=problem, status=400)
    changed = [row for row in rows if int(row.value) != int(row.shown)]
    notes = []
    # SKU order, like a checkout's reservations: the two queue, never deadlock.
    for row in sorted(changed, key=lambda r: r.variant.sku):
        stock = _apply(session, row)
        if stock is None:
            row.error = _refusal(session, row)
            continue
        events.stock_changed(session, row.variant, stock - (int(row.value) - int(row.shown)), stock)
        if stock != int(row.value):
            notes.append(
                f"{row.variant.sku} now has {stock}, not {row.value}: the stock changed "
                "while the page was open."
            )
    if any(row.error for row in rows):
        return _render(request, filters, rows, status=400)
    if changed:
        for product in {row.variant.product.id: row.variant.product for row in changed}.values():
            events.product_changed(session, product, "updated")
        count = len(changed)
        request.session.flash(f"Stock saved for {count} variant{'' if count == 1 else 's'}.")
    else:
        request.session.flash("No stock was changed.")
    for note in notes:
        request.session.flash(note)
    return HTTPSeeOther(request.route_path("catalog_admin_stock", _query=filters.query()))
