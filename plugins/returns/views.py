"""The returns plugin's pages: the customer's form (by the order's secret link, or from
their account) and the staff pages under /admin (permission ``orders.manage``).

A form with a mistake, or a step the return does not allow, comes back with a 4xx and
the reason next to the field: ``tm.commit_veto`` aborts the transaction, so nothing
half-done is kept. A step taken sends the person back (303) with a flash message.
Staff's changes under /admin are logged by the admin's audit tween.
"""

import re

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.interfaces import ISecurityPolicy
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import case, select

from mercato import (
    Order,
    admin_available,
    can_view_order,
    has_route,
    order_by_number,
    order_by_token,
)

from . import services, slots
from .actions import StaffInput, atomically, done_message, perform
from .models import RECEIVED, REQUESTED, STATUSES, ReturnRequest
from .schemas import BadInput, form_units, read_request

MANAGE = "orders.manage"
NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _page(request, template: str, values: dict, status: int = 200):
    response = render_to_response(template, values, request=request)
    response.status_int = status
    # Customers' and orders' details: never kept by a shared cache or the browser's.
    response.cache_control.no_store = True
    return response


# ---------------------------------------------------------------------------
# The customer
# ---------------------------------------------------------------------------


def _customer_order(request) -> Order:
    """The order of the URL, if this person may see it; else 404, as for no order."""
    token = request.matchdict.get("token")
    if token is not None:
        order = order_by_token(request.dbsession, token)
        if order is None or not can_view_order(request, order, token):
            raise HTTPNotFound()
        return order
    order = order_by_number(request.dbsession, request.matchdict["number"])
    if order is None or not can_view_order(request, order):
        raise HTTPNotFound()
    return order


def _order_page(request, order: Order) -> str:
    """Back to the storefront's page of the order (where the returns are shown), or to
    this plugin's own page when no plugin serves it."""
    if request.matchdict.get("token") is not None:
        if has_route(request, "order_link"):
            return request.route_path("order_link", token=order.access_token)
        return request.route_path("returns_by_token", token=order.access_token)
    if has_route(request, "orders_history_order"):
        return request.route_path("orders_history_order", number=order.number)
    return request.route_path("returns_by_number", number=order.number)


def _request_page(request, order: Order, status: int = 200, **form_state):
    returns = services.returns_of(request.dbsession, order)
    values = slots.customer_values(request, order, returns, **form_state)
    values["order_page"] = _order_page(request, order)
    return _page(request, "returns/request.jinja2", values, status)


@view_config(route_name="returns_by_token", request_method="GET")
@view_config(route_name="returns_by_number", request_method="GET", permission="account.manage")
def request_form(request):
    return _request_page(request, _customer_order(request))


def _kept(post) -> dict:
    """What the customer typed, to show again next to the reason it was refused."""
    return {
        name: value
        for name, value in post.items()
        if isinstance(value, str)
        and (name.startswith("quantity.") or name in ("reason", "details"))
    }


@view_config(route_name="returns_by_token", request_method="POST")
@view_config(route_name="returns_by_number", request_method="POST", permission="account.manage")
def request_submit(request):
    order = _customer_order(request)
    post = request.POST
    try:
        key = post.get("request_key", "")
        if key and not (isinstance(key, str) and NONCE.match(key)):
            raise BadInput("This form has expired: please reload the page and try again.")
        asked = read_request(
            form_units(post, "quantity"),
            post.get("reason"),
            post.get("details"),
            services.settings_of(request)["reasons"],
        )
        ret, _ = atomically(
            request,
            lambda: services.request_return(
                request, order, asked["units"], asked["reason"], asked["details"], key
            ),
        )
    except (BadInput, services.ReturnError) as exc:
        status = getattr(exc, "status", 400)
        errors = {exc.field or "form": exc.message}
        return _request_page(request, order, status, values=_kept(post), errors=errors)
    request.session.flash(
        f"Thank you: your return #{ret.id} is requested. We will write to {order.email} "
        "once we have looked at it."
    )
    return HTTPSeeOther(_order_page(request, order))


# ---------------------------------------------------------------------------
# Staff
# ---------------------------------------------------------------------------


def _require_admin_pages(request) -> None:
    # The pages extend the admin's layout: without the admin plugin they do not exist.
    if not admin_available(request):
        raise HTTPNotFound()
    # Without a security policy Pyramid allows every permission: fail closed instead.
    if request.registry.queryUtility(ISecurityPolicy) is None:
        raise HTTPForbidden()


def _staff_order(request) -> Order:
    _require_admin_pages(request)
    order = order_by_number(request.dbsession, request.matchdict["number"])
    if order is None:
        raise HTTPNotFound()
    return order


@view_config(route_name="returns_admin", request_method="GET", permission=MANAGE)
def returns_list(request):
    _require_admin_pages(request)
    status = request.GET.get("status", "")
    query = (
        select(ReturnRequest, Order.number)
        .join(Order, Order.id == ReturnRequest.order_id)
        # Those waiting for a decision first, then the newest.
        .order_by(case((ReturnRequest.status == REQUESTED, 0), else_=1), ReturnRequest.id.desc())
        .limit(200)
    )
    if status in STATUSES:
        query = query.where(ReturnRequest.status == status)
    rows = request.dbsession.execute(query).all()
    values = {
        "rows": rows,
        "status": status if status in STATUSES else "",
        "statuses": STATUSES,
        "words": services.STAFF_WORDS,
    }
    return _page(request, "returns/admin_list.jinja2", values)


def _return_page(request, order: Order, return_id: int, status: int = 200, **form_state):
    ret = request.dbsession.scalars(
        select(ReturnRequest).where(
            ReturnRequest.id == return_id, ReturnRequest.order_id == order.id
        )
    ).first()
    if ret is None:
        raise HTTPNotFound()
    due = None
    if ret.status == RECEIVED:  # what the refund form offers
        try:
            due = services.refund_due(order, ret)
        except services.ReturnError as exc:
            form_state.setdefault("errors", {}).setdefault("amount", exc.message)
    values = {
        "order": order,
        "ret": ret,
        "words": services.STAFF_WORDS,
        "event_words": services.EVENT_WORDS,
        "due": due,
        "next": services.NEXT.get(ret.status, ()),
        "values": form_state.get("values", {}),
        "errors": form_state.get("errors", {}),
        "failed": form_state.get("failed", ""),
        "has_admin_order": has_route(request, "admin_order"),
    }
    return _page(request, "returns/admin_return.jinja2", values, status)


@view_config(route_name="returns_admin_return", request_method="GET", permission=MANAGE)
def return_page(request):
    return _return_page(request, _staff_order(request), int(request.matchdict["id"]))


@view_config(route_name="returns_admin_action", request_method="POST", permission=MANAGE)
def return_action(request):
    order = _staff_order(request)
    return_id, action = int(request.matchdict["id"]), request.matchdict["action"]
    post = request.POST
    given = StaffInput(
        message=post.get("message"),
        amount=post.get("amount"),
        reason=post.get("reason"),
        received=form_units(post, "received"),
        restock=form_units(post, "restock"),
    )
    try:
        ret, done = atomically(request, lambda: perform(request, order, return_id, action, given))
    except (BadInput, services.ReturnError) as exc:
        if getattr(exc, "status", 400) == 404:
            raise HTTPNotFound() from None
        kept = {name: value for name, value in post.items() if isinstance(value, str)}
        errors = {exc.field or action: exc.message}
        status = getattr(exc, "status", 400)
        return _return_page(
            request, order, return_id, status, values=kept, errors=errors, failed=action
        )
    locale = request.registry.settings["mercato.locale"]
    request.session.flash(done_message(order, ret, action, done, locale))
    return HTTPSeeOther(request.route_path("returns_admin_return", number=order.number, id=ret.id))
