"""The admin's pages and forms.

Every page needs ``admin.access`` (staff and admins); order actions ``orders.manage``;
staff accounts ``staff.manage``. Every form carries the session's CSRF token. A form
or filter with errors comes back with a message next to the field and status 400, a
refused action (the order's state, the payment provider, yourself) with 409: either
way ``tm.commit_veto`` aborts the transaction and nothing half-done is kept. Pages
are ``no-store``: they hold customers' personal data.
"""

import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal

from markupsafe import escape
from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from mercato import (
    AUTHORIZED,
    AWAITING_PAYMENT,
    CANCELLED,
    FULFILLED,
    PAID,
    PARTIALLY_FULFILLED,
    PARTIALLY_REFUNDED,
    REFUNDED,
    ROLES,
    BadChange,
    Order,
    OrderError,
    OutboxError,
    RestockError,
    User,
    amount_owed,
    balance_due,
    change_made_before,
    country_name,
    describe,
    kept_values,
    mask,
    order_by_number,
    outbox_counts,
    outbox_entries,
    refund_made_before,
    region_name,
    retry_delivery,
    safe_next,
    secret_setting_names,
)
from mercato import validate_form as validate

from . import exports, refunds, schemas, services

ACCESS = "admin.access"
ORDERS = "orders.manage"
STAFF = "staff.manage"
ERASE = "customers.erase"
PRIVATE = (0, {"no_store": True, "private": True})

# Orders whose money is taken: they may be refunded, and their lines still to ship
# cancelled (an authorized one is captured first, or cancelled whole).
CAPTURED = (PAID, PARTIALLY_FULFILLED, FULFILLED, PARTIALLY_REFUNDED)
STATUS_LABELS = {
    AWAITING_PAYMENT: "Awaiting payment",
    AUTHORIZED: "Authorized",
    PAID: "Paid",
    PARTIALLY_FULFILLED: "Partially shipped",
    FULFILLED: "Shipped",
    CANCELLED: "Cancelled",
    PARTIALLY_REFUNDED: "Partly refunded",
    REFUNDED: "Refunded",
}


def _currency(request) -> str:
    return request.registry.settings["mercato.currency"]


def _filters(request, schema):
    """The listing's filters from the query string; on errors, the defaults and a 400."""
    values, errors = validate(schema, request.GET)
    if errors:
        request.response.status_int = 400
        values = schema.deserialize({})
    return values, errors, kept_values(request.GET, schema)


def _page_links(request, route: str, kept: dict, page: services.Page, **kw) -> dict:
    """Previous/next links that keep the filters."""

    def link(number: int) -> str:
        query = {k: v for k, v in kept.items() if v and k != "page"}
        if number > 1:
            query["page"] = number
        return request.route_path(route, _query=query, **kw)

    return {
        "prev": link(page.page - 1) if page.page > 1 else None,
        "next": link(page.page + 1) if page.page < page.pages else None,
    }


# ---------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------


def _widgets(request) -> list:
    panels = []
    for contribution in request.hooks.mercato_admin_widgets(request=request):
        parts = contribution if isinstance(contribution, list | tuple) else [contribution]
        # Markup is trusted HTML; anything else is shown as text.
        panels += [escape(part) for part in parts if part is not None]
    return panels


@view_config(
    route_name="admin_dashboard",
    permission=ACCESS,
    request_method="GET",
    renderer="admin/dashboard.jinja2",
    http_cache=PRIVATE,
)
def dashboard(request):
    db, currency = request.dbsession, _currency(request)
    tz = services.timezone_of(request)
    today = datetime.now(tz).date()
    tomorrow = services.local_midnight(today + timedelta(days=1), tz)
    month_start = services.local_midnight(today.replace(day=1), tz)
    points = services.daily_revenue(db, tz, currency, today)
    return {
        "today": today,
        "timezone": tz.key,
        "sales_today": services.sales(db, services.local_midnight(today, tz), tomorrow, currency),
        "sales_month": services.sales(db, month_start, tomorrow, currency),
        "chart": services.revenue_chart(points, currency, services.locale_of(request)),
        "waiting": services.orders_waiting(db, request.registry.settings["mercato.capture"]),
        "outbox": outbox_counts(db),
        "dead": outbox_entries(db, dead=True, limit=5),
        "recent": db.scalars(
            select(Order).order_by(Order.created_at.desc(), Order.id.desc()).limit(8)
        ).all(),
        "widgets": _widgets(request),
        "labels": STATUS_LABELS,
    }


# ---------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------


@view_config(
    route_name="admin_orders",
    permission=ACCESS,
    request_method="GET",
    renderer="admin/orders.jinja2",
    http_cache=PRIVATE,
)
def orders_list(request):
    filters, errors, kept = _filters(request, schemas.OrderFilters())
    tz = services.timezone_of(request)
    page = services.find_orders(request.dbsession, filters, tz)
    customer = None
    if filters["customer"]:
        customer = request.dbsession.get(User, filters["customer"])
    return {
        "page": page,
        "links": _page_links(request, "admin_orders", kept, page),
        "values": kept,
        "errors": errors,
        "customer": customer,
        "labels": STATUS_LABELS,
        "exports": {
            name: request.route_path(route, _query=_filters_kept(kept))
            for name, route in (("orders", "admin_orders_export"), ("lines", LINES_EXPORT))
        },
    }


def _filters_kept(kept: dict) -> dict:
    return {k: v for k, v in kept.items() if v and k != "page"}


LINES_EXPORT = "admin_order_lines_export"


@view_config(route_name="admin_orders_export", permission=ORDERS, request_method="GET")
@view_config(route_name=LINES_EXPORT, permission=ORDERS, request_method="GET")
def orders_export(request):
    """The orders the filters find, every page of them, as a CSV download of the orders
    or of their lines (exports.py); the download is in the audit log: it takes
    customers' personal data away."""
    filters, errors, kept = _filters(request, schemas.OrderFilters())
    if errors:
        # The orders page, its filters marked (400): never every order for a typo.
        page = orders_list(request)
        response = render_to_response(
            "admin/orders.jinja2", page, request, response=request.response
        )
        response.cache_control.no_store = True
        return response
    lines = request.matched_route.name == LINES_EXPORT
    tz = services.timezone_of(request)
    query = services.orders_matching(filters, tz)
    count = services.count_of(request.dbsession, query)
    described = ", ".join(f"{k}={v}" for k, v in _filters_kept(kept).items())
    what = f"{count} order{'' if count == 1 else 's'}"
    services.audit(
        request,
        "orders.export",
        summary=f"Exported {'the lines of ' if lines else ''}{what}"
        + (f" ({described})" if described else ""),
    )
    response = Response(
        content_type="text/csv",
        charset="utf-8",
        app_iter=exports.export_chunks(request.registry.db_engine, query, tz, lines=lines),
    )
    name = "order-lines" if lines else "orders"
    response.content_disposition = f'attachment; filename="{name}-{date.today()}.csv"'
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


def _order(request) -> Order:
    order = order_by_number(request.dbsession, request.matchdict["number"])
    if order is None:
        raise HTTPNotFound()
    return order


def percent(rate) -> str:
    """``"0.19"`` → ``"19%"``, ``"0.0725"`` → ``"7.25%"``."""
    shown = format(Decimal(rate) * 100, "f")
    if "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return f"{shown}%"


def totals_rows(order: Order) -> list[dict]:
    """``order.summary()`` with the words staff read: the shipping method's name, each
    tax line's rate and whether the prices include it."""
    rows = []
    for row in order.summary():
        label = row["label"]
        if row["kind"] == "shipping":
            label = f"Shipping: {label}"
        elif row["kind"] == "tax":
            rate = percent(row["rate"])
            # Rates are often named with their rate already ("VAT 20%", "VAT 7% removed
            # (export)"): not twice.
            label = label if rate in label else f"{label} {rate}"
            label += " (included)" if row["included"] else ""
        rows.append({**row, "label": label})
    return rows


def _address(title: str, address: dict) -> dict:
    country = address.get("country", "")
    region = address.get("region", "")
    return {
        "title": title,
        "address": address,
        "country": country_name(country),
        "region": region_name(country, region) if region else "",
    }


def _order_page(request, order: Order, *, status: int = 200, **form_state) -> dict:
    request.response.status_int = status
    db = request.dbsession
    refunds_done = services.refunds_of(db, order)
    actors = [c.actor for c in order.history] + [r.actor for r in refunds_done]
    to_ship = any(line.quantity_to_ship for line in order.lines)
    return {
        "order": order,
        "totals": totals_rows(order),
        "addresses": [
            _address("Ship to", order.shipping_address),
            _address("Bill to", order.billing_address),
        ],
        "shipping_charged": order.money(order.shipping_amount + order.shipping_tax_amount),
        "refunds": refunds_done,
        "refundable": services.refundable(order, refunds_done),
        "owed": amount_owed(order),
        "balance_due": balance_due(order),
        "actors": services.actor_labels(db, actors),
        "audit": services.audit_of(db, "order", order.number),
        "customer": db.get(User, order.customer_id) if order.customer_id else None,
        "labels": STATUS_LABELS,
        "can": {
            "capture": order.status == AUTHORIZED,
            "cancel": order.status in (AWAITING_PAYMENT, AUTHORIZED),
            "fulfil": to_ship and order.status in (AUTHORIZED, *CAPTURED),
            "cancel_lines": to_ship and order.status in (AUTHORIZED, *CAPTURED),
            "add_lines": order.status in (AUTHORIZED, PAID, PARTIALLY_REFUNDED)
            and not any(line.quantity_shipped for line in order.lines),
            "refund": order.status in CAPTURED,
        },
        # A new one-time key per form each time the page is shown: posting the same
        # form twice refunds once (see ``_replayed``).
        "nonces": {
            form: secrets.token_urlsafe(16) for form in ("refund", "cancel_lines", "add_lines")
        },
        "refund_field": schemas.refund_field,
        "restock_field": schemas.restock_field,
        "cancel_field": schemas.cancel_field,
        "calculated": form_state.get("calculated"),
        "values": form_state.get("values", {}),
        "errors": form_state.get("errors", {}),
        "refused": form_state.get("refused", {}),
    }


@view_config(
    route_name="admin_order",
    permission=ACCESS,
    request_method="GET",
    renderer="admin/order.jinja2",
    http_cache=PRIVATE,
)
def order_page(request):
    return _order_page(request, _order(request))


def _order_action(request, action: str, run, done: str):
    """Run a staff action on the order; a refusal re-renders the page, saying why."""
    order = _order(request)
    try:
        run(order)
    except OrderError as exc:
        return _order_page(request, order, status=409, refused={action: str(exc)})
    request.session.flash(done.format(number=order.number))
    return HTTPSeeOther(request.route_path("admin_order", number=order.number))


def _form_failed(request, order, action: str, schema, errors):
    values = {action: kept_values(request.POST, schema)}
    return _order_page(request, order, status=400, values=values, errors={action: errors})


@view_config(
    route_name="admin_order_capture",
    permission=ORDERS,
    request_method="POST",
    renderer="admin/order.jinja2",
    http_cache=PRIVATE,
)
def order_capture(request):
    return _order_action(
        request,
        "capture",
        lambda order: services.capture(request, order),
        "Payment of order {number} captured.",
    )


@view_config(
    route_name="admin_order_cancel",
    permission=ORDERS,
    request_method="POST",
    renderer="admin/order.jinja2",
    http_cache=PRIVATE,
)
def order_cancel(request):
    values, errors = validate(schemas.ReasonForm(), request.POST)
    if errors:
        return _form_failed(request, _order(request), "cancel", schemas.ReasonForm(), errors)
    return _order_action(
        request,
        "cancel",
        lambda order: services.cancel(request, order, values["reason"]),
        "Order {number} cancelled: the payment was voided and the items are back in stock.",
    )


@view_config(
    route_name="admin_order_fulfil",
    permission=ORDERS,
    request_method="POST",
    renderer="admin/order.jinja2",
    http_cache=PRIVATE,
)
def order_fulfil(request):
    schema = schemas.FulfilForm()
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, _order(request), "fulfil", schema, errors)
    return _order_action(
        request,
        "fulfil",
        lambda order: services.fulfil(
            request, order, values["tracking_number"], values["tracking_url"]
        ),
        "Order {number} marked as shipped.",
    )


@view_config(
    route_name="admin_order_refund",
    permission=ORDERS,
    request_method="POST",
    renderer="admin/order.jinja2",
    http_cache=PRIVATE,
)
def order_refund(request):
    """A refund by parts or by amount (``mercato_admin.refunds``); the "Calculate"
    button shows what the chosen parts come to and refunds nothing."""
    order = _order(request)
    schema = schemas.RefundForm(order.lines, shipping=bool(order.shipping_method))
    kept = {"refund": kept_values(request.POST, schema)}
    if foreign := refunds.foreign_fields(request.POST, {n.name for n in schema.children}):
        message = (
            f"The refund form of order {order.number} has no {', '.join(foreign)}: "
            "reload the page and try again. Nothing was refunded."
        )
        return _order_page(request, order, status=400, values=kept, refused={"refund": message})
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, order, "refund", schema, errors)
    if done := _replayed(request, order, values["request_key"]):
        return done
    try:
        parts = refunds.parts_of(order, values)
        if "calculate" in request.POST:
            if parts.computed is None:
                message = "Choose units to refund (or the shipping) to see what they come to."
                return _order_page(
                    request, order, status=400, values=kept, refused={"refund": message}
                )
            services.changed_nothing(request)
            return _order_page(request, order, values=kept, calculated=parts.computed)
        amount = refunds.amount_of(order, values, parts)
        restock = refunds.restock_of(order, values, parts)
    except refunds.RefundFormError as exc:
        return _form_failed(request, order, "refund", schema, exc.errors)

    try:
        services.refund(
            request, order, amount, values["reason"], restock, parts, values["request_key"] or None
        )
    except RestockError as exc:
        # More than is left to put back: the form again, the message at its line (or at
        # the box that asked to put the refunded units back).
        line = next(line for line in order.lines if line.sku == exc.sku)
        name = "restock" if values["restock"] else schemas.restock_field(line)
        return _form_failed(request, order, "refund", schema, {name: str(exc)})
    except OrderError as exc:
        return _order_page(request, order, status=409, values=kept, refused={"refund": str(exc)})
    locale = services.locale_of(request)
    request.session.flash(f"{amount.format(locale)} refunded for order {order.number}.")
    return HTTPSeeOther(request.route_path("admin_order", number=order.number))


def _replayed(request, order: Order, request_key: str):
    """The order's page again when this form's one-time key already refunded (a double
    click, a resubmitted page): nothing is done twice, and nothing is logged."""
    if not request_key:
        return None
    done = refund_made_before(request.dbsession, order, request_key)
    if done is None:
        return None
    services.changed_nothing(request)
    amount = order.money(done.amount).format(services.locale_of(request))
    request.session.flash(f"Already done: {amount} was refunded for order {order.number}.")
    return HTTPSeeOther(request.route_path("admin_order", number=order.number))


@view_config(
    route_name="admin_order_cancel_lines",
    permission=ORDERS,
    request_method="POST",
    renderer="admin/order.jinja2",
    http_cache=PRIVATE,
)
def order_cancel_lines(request):
    """Cancel units not shipped yet (``mercato.cancel_order_lines``): back in stock,
    and what the customer paid for them refunded."""
    order = _order(request)
    schema = schemas.CancelLinesForm(order.lines)
    kept = {"cancel_lines": kept_values(request.POST, schema)}
    fields = {node.name for node in schema.children}
    if foreign := refunds.foreign_fields(request.POST, fields, schemas.CANCEL_LINE_FIELD):
        message = (
            f"Order {order.number} has no {', '.join(foreign)}: reload the page and try "
            "again. Nothing was cancelled."
        )
        return _order_page(
            request, order, status=400, values=kept, refused={"cancel_lines": message}
        )
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, order, "cancel_lines", schema, errors)
    if order.status != AUTHORIZED and (done := _replayed(request, order, values["request_key"])):
        return done
    units: dict[str, int] = {}
    for line in order.lines:
        if count := values[schemas.cancel_field(line)]:
            units[line.sku] = units.get(line.sku, 0) + count
    if not units:
        message = "Say how many units of which line will not ship."
        return _order_page(
            request, order, status=400, values=kept, refused={"cancel_lines": message}
        )
    if order.status == AUTHORIZED:
        return _change(request, order, schema, kept, values, remove=units)
    try:
        refund = services.cancel_lines(
            request, order, units, values["reason"], values["request_key"] or None
        )
    except OrderError as exc:
        # More than a line has left to ship: the message next to that line; the
        # order's state (not paid, nothing left): on top of the form.
        over = None
        if order.status in CAPTURED:
            over = next((line for line in order.lines if _over(line, units)), None)
        if over is not None:
            errors = {schemas.cancel_field(over): str(exc)}
            return _form_failed(request, order, "cancel_lines", schema, errors)
        return _order_page(
            request, order, status=409, values=kept, refused={"cancel_lines": str(exc)}
        )
    amount = order.money(refund.amount).format(services.locale_of(request))
    cancelled = ", ".join(f"{n} × {sku}" for sku, n in units.items())
    request.session.flash(
        f"Cancelled {cancelled} of order {order.number}: back in stock, {amount} refunded."
    )
    return HTTPSeeOther(request.route_path("admin_order", number=order.number))


@view_config(
    route_name="admin_order_add_lines",
    permission=ORDERS,
    request_method="POST",
    renderer="admin/order.jinja2",
    http_cache=PRIVATE,
)
def order_add_lines(request):
    """Add units of a SKU to an order not shipped yet (``mercato.change_order_lines``):
    priced and reserved as at checkout; the difference is a balance the customer pays
    through their order page."""
    order = _order(request)
    schema = schemas.ChangeForm()
    values, errors = validate(schema, request.POST)
    if not errors and not (values["sku"] and values["quantity"]):
        errors = {"sku": "Give the SKU and how many units to add."}
    if errors:
        return _form_failed(request, order, "add_lines", schema, errors)
    kept = {"add_lines": kept_values(request.POST, schema)}
    return _change(request, order, schema, kept, values, add={values["sku"]: values["quantity"]})


def _change(request, order: Order, schema, kept: dict, values: dict, **units):
    """Run a change of the order's lines; a refusal is the form again, saying why."""
    action = "add_lines" if units.get("add") else "cancel_lines"
    if change_made_before(request.dbsession, order, values["request_key"]):
        services.changed_nothing(request)
        request.session.flash(f"Already done: order {order.number} changed once.")
        return HTTPSeeOther(request.route_path("admin_order", number=order.number))
    try:
        change = services.change_lines(
            request, order, values["reason"], values["request_key"] or None, **units
        )
    except BadChange as exc:
        return _order_page(request, order, status=400, values=kept, refused={action: str(exc)})
    except OrderError as exc:
        return _order_page(request, order, status=409, values=kept, refused={action: str(exc)})
    locale = services.locale_of(request)
    due = balance_due(order)
    text = ", ".join(f"{n} × {sku}" for sku, n in change.lines.items())
    request.session.flash(
        f"Order {order.number}: {text} {'added' if action == 'add_lines' else 'taken off'}"
        + (
            f"; {due.format(locale)} left to pay (the customer was sent the link)."
            if due.amount
            else f"; it now comes to {amount_owed(order).format(locale)}."
        )
    )
    return HTTPSeeOther(request.route_path("admin_order", number=order.number))


def _over(line, units: dict[str, int]) -> bool:
    """Whether ``units`` asks more of ``line``'s SKU than its lines have left to ship."""
    same = [other for other in line.order.lines if other.sku == line.sku]
    return line is same[0] and units.get(line.sku, 0) > sum(o.quantity_to_ship for o in same)


# ---------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------


@view_config(
    route_name="admin_customers",
    permission=ACCESS,
    request_method="GET",
    renderer="admin/customers.jinja2",
    http_cache=PRIVATE,
)
def customers_list(request):
    filters, errors, kept = _filters(request, schemas.SearchFilters())
    page = services.find_customers(request.dbsession, filters, _currency(request))
    return {
        "page": page,
        "links": _page_links(request, "admin_customers", kept, page),
        "values": kept,
        "errors": errors,
    }


def _user(request) -> User:
    user = request.dbsession.get(User, int(request.matchdict["id"]))
    if user is None:
        raise HTTPNotFound()
    return user


@view_config(
    route_name="admin_customer",
    permission=ACCESS,
    request_method="GET",
    renderer="admin/customer.jinja2",
    http_cache=PRIVATE,
)
def customer_page(request, *, erase_errors=None, refused=None):
    user = _user(request)
    return {
        "person": user,
        "orders": services.orders_of_customer(request.dbsession, user),
        "audit": services.audit_of(request.dbsession, "user", user.email),
        "labels": STATUS_LABELS,
        "roles": ROLES,
        "erase_errors": erase_errors or {},
        "refused": refused,
    }


@view_config(
    route_name="admin_customer_erase",
    permission=ERASE,
    request_method="POST",
    renderer="admin/customer.jinja2",
    http_cache=PRIVATE,
)
def customer_erase(request):
    """Erase a customer's account at their request, once the admin typed its email."""
    user = _user(request)
    values, errors = validate(schemas.EraseForm(), request.POST)
    if not errors and values["confirm"].lower() != user.email:
        errors = {"confirm": f"Type {user.email} to confirm."}
    if errors:
        request.response.status_int = 400
        return customer_page(request, erase_errors=errors)
    try:
        kept = services.erase_customer(request, user)
    except services.AdminError as exc:
        request.response.status_int = 409
        return customer_page(request, refused=str(exc))
    request.session.flash(
        f"The customer's account, addresses and cart are erased; {kept} order(s) kept."
    )
    return HTTPSeeOther(request.route_path("admin_customers"))


# ---------------------------------------------------------------------------
# Staff (admins only)
# ---------------------------------------------------------------------------


def _staff_page(request, *, status=200, values=None, errors=None, refused=None) -> dict:
    request.response.status_int = status
    return {
        "members": services.staff_members(request.dbsession),
        "values": values or {"role": "staff"},
        "errors": errors or {},
        "refused": refused,
        "roles": ROLES,
        "invite_hours": services.INVITE_TTL // 3600,
        "can_invite": services.can_invite(request),
        "no_invitations": services.NO_INVITATIONS,
    }


@view_config(
    route_name="admin_staff",
    permission=STAFF,
    request_method="GET",
    renderer="admin/staff.jinja2",
    http_cache=PRIVATE,
)
def staff_page(request):
    return _staff_page(request)


@view_config(
    route_name="admin_staff_invite",
    permission=STAFF,
    request_method="POST",
    renderer="admin/staff.jinja2",
    http_cache=PRIVATE,
)
def staff_invite(request):
    schema = schemas.InviteForm()
    values, errors = validate(schema, request.POST)
    if errors:
        kept = kept_values(request.POST, schema)
        return _staff_page(request, status=400, values=kept, errors=errors)
    try:
        user = services.invite(request, values["email"], values["name"], values["role"])
    except services.AdminError as exc:
        kept = kept_values(request.POST, schema)
        return _staff_page(request, status=409, values=kept, errors={"email": str(exc)})
    request.session.flash(
        f"{user.email} is invited as {user.role}: we emailed them a link to choose a password."
    )
    return HTTPSeeOther(request.route_path("admin_staff"))


def _staff_change(request, schema, change):
    user = _user(request)
    values, errors = validate(schema, request.POST)
    if errors:
        return _staff_page(request, status=400, refused=" ".join(errors.values()))
    try:
        message = change(user, values)
    except services.AdminError as exc:
        return _staff_page(request, status=409, refused=str(exc))
    request.session.flash(message)
    back = safe_next(request, request.POST.get("next"), request.route_path("admin_staff"))
    return HTTPSeeOther(back)


@view_config(
    route_name="admin_staff_role",
    permission=STAFF,
    request_method="POST",
    renderer="admin/staff.jinja2",
    http_cache=PRIVATE,
)
def staff_role(request):
    def change(user, values):
        services.change_role(request, user, values["role"])
        return f"{user.email} is now {user.role}."

    return _staff_change(request, schemas.RoleForm(), change)


@view_config(
    route_name="admin_staff_active",
    permission=STAFF,
    request_method="POST",
    renderer="admin/staff.jinja2",
    http_cache=PRIVATE,
)
def staff_active(request):
    def change(user, values):
        services.set_active(request, user, values["active"])
        if user.is_active:
            return f"{user.email} can log in again."
        return f"{user.email} is disabled and logged out everywhere."

    return _staff_change(request, schemas.ActiveForm(), change)


# ---------------------------------------------------------------------------
# Plugins, outbox, audit log
# ---------------------------------------------------------------------------


@view_config(
    route_name="admin_plugins",
    permission=ACCESS,
    request_method="GET",
    renderer="admin/plugins.jinja2",
    http_cache=PRIVATE,
)
def plugins_page(request):
    pm = request.registry.plugin_manager
    secrets = secret_setting_names(pm)
    settings = request.registry.settings
    plugins = []
    for info in describe(pm):
        own = settings.get(f"mercato.{info.name}") if info.enabled else None
        shown = {
            key: mask(f"mercato.{info.name}.{key}", value, secrets)
            for key, value in sorted((own or {}).items())
        }
        plugins.append({"info": info, "settings": shown})
    return {"plugins": plugins}


def _outbox_page(request, *, status=200, refused=None) -> dict:
    request.response.status_int = status
    db = request.dbsession
    return {
        "pending": outbox_entries(db, dead=False, limit=100),
        "dead": outbox_entries(db, dead=True, limit=100),
        "refused": refused,
    }


@view_config(
    route_name="admin_outbox",
    permission=ACCESS,
    request_method="GET",
    renderer="admin/outbox.jinja2",
    http_cache=PRIVATE,
)
def outbox_page(request):
    return _outbox_page(request)


@view_config(
    route_name="admin_outbox_retry",
    permission=ACCESS,
    request_method="POST",
    renderer="admin/outbox.jinja2",
    http_cache=PRIVATE,
)
def outbox_retry(request):
    delivery_id = int(request.matchdict["id"])
    try:
        error = retry_delivery(request.registry, delivery_id)
    except OutboxError as exc:
        return _outbox_page(request, status=409, refused=f"Not retried: {exc}.")
    outcome = "delivered" if error is None else f"failed again: {error}"
    services.audit(
        request,
        "outbox.retry",
        object_type="outbox_delivery",
        object_id=str(delivery_id),
        summary=f"Retried delivery {delivery_id}: {outcome}",
    )
    if error is None:
        request.session.flash(f"Delivery {delivery_id} was sent.")
    else:
        request.session.flash(
            f"Delivery {delivery_id} failed again ({error}); it stays in the queue."
        )
    return HTTPSeeOther(request.route_path("admin_outbox"))


@view_config(
    route_name="admin_audit",
    permission=ACCESS,
    request_method="GET",
    renderer="admin/audit.jinja2",
    http_cache=PRIVATE,
)
def audit_page(request):
    filters, errors, kept = _filters(request, schemas.AuditFilters())
    page = services.find_audit(request.dbsession, filters)
    return {
        "page": page,
        "links": _page_links(request, "admin_audit", kept, page),
        "values": kept,
        "errors": errors,
    }
