"""The checkout unit's JSON API: checkout, the shopper's orders, and staff operations.

A refused checkout answers 4xx: ``tm.commit_veto`` then aborts the transaction, which
voids any authorization it made (the payment data manager).
"""

import colander
from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound
from pyramid.view import view_config

from mercato import (
    FULFILLED,
    PAID,
    PARTIALLY_FULFILLED,
    PARTIALLY_REFUNDED,
    CheckoutError,
    Order,
    OrderError,
    RestockError,
    actor_of,
    cancel_order,
    cancel_order_lines,
    checkout_state,
    fulfil_order,
    order_by_number,
    order_by_token,
    orders_of_customer,
    payment_methods,
    place_order,
    refund_made_before,
    refund_order,
    retry_safe_key,
    review_cart,
    set_checkout_address,
    set_shipping_method,
)

from . import idempotency
from .refunds import read_refund
from .schemas import BadBody, quantities
from .shapes import option_json, order_json, refund_json, refunds_by_order, review_json

# ---------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------


def error_json(request, status: int, message: str, field=None, sku=None) -> dict:
    """``{"error": {"status", "message", "field"?, "sku"?}}`` with that status."""
    request.response.status_int = status
    error = {"status": status, "message": message}
    if field:
        error["field"] = field
    if sku:
        error["sku"] = sku
    return {"error": error}


def json_error(request, exc: CheckoutError) -> dict:
    return error_json(request, exc.status, exc.message, exc.field, exc.sku)


def _json_object(request, what: str) -> dict:
    try:
        body = request.json_body
    except ValueError:
        raise HTTPBadRequest(f"Send {what} as a JSON object.") from None
    if not isinstance(body, dict):
        raise HTTPBadRequest(f"Send {what} as a JSON object.")
    return body


# ---------------------------------------------------------------------------
# Checkout and the shopper's orders
# ---------------------------------------------------------------------------


@view_config(route_name="api_checkout", request_method="GET", renderer="json")
def api_checkout(request):
    state = checkout_state(request)
    review = review_cart(request)
    request.response.cache_control.no_store = True
    return {
        "checkout_id": state["id"],
        "email": state.get("email"),
        "shipping_address": state.get("shipping"),
        "billing_address": state.get("billing"),
        "vat_number": state.get("vat_number", ""),
        "shipping_method": state.get("shipping_method"),
        **review_json(review),
        "payment_methods": [
            {"code": x.code, "label": x.label, "provider": x.provider}
            for x in payment_methods(request)
        ],
    }


@view_config(route_name="api_checkout_address", request_method=("PUT", "POST"), renderer="json")
def api_checkout_address(request):
    """``{"email", "shipping_address": {…, "country": "US", "region": "NY"},
    "billing_address"?, "vat_number"?}``: the totals follow the new destination (a
    shipping method chosen before stays only if the new address offers it)."""
    body = _json_object(request, "the address")
    try:
        state = set_checkout_address(
            request,
            email=body.get("email", ""),
            shipping=body.get("shipping_address") or {},
            billing=body.get("billing_address"),
            vat_number=body.get("vat_number") or "",
        )
    except colander.Invalid as exc:
        request.response.status_int = 400
        return {
            "error": {
                "status": 400,
                "message": "Some fields need your attention.",
                "fields": exc.asdict(),
            }
        }
    return {
        "checkout_id": state["id"],
        "email": state["email"],
        "vat_number": state["vat_number"],
    }


@view_config(route_name="api_checkout_shipping", request_method="GET", renderer="json")
def api_shipping_options(request):
    """The ways the cart may go to the checkout's address, and the one chosen."""
    state = checkout_state(request)
    request.response.cache_control.no_store = True
    if not state.get("shipping"):
        return error_json(
            request,
            409,
            "Give the shipping address first: the shipping methods depend on it.",
            "shipping_address",
        )
    priced = review_cart(request).priced
    return {
        "shipping_required": priced.shipping_required,
        "shipping_options": [option_json(option) for option in priced.shipping_options],
        "shipping": option_json(priced.shipping) if priced.shipping else None,
    }


@view_config(route_name="api_checkout_shipping", request_method=("PUT", "POST"), renderer="json")
def api_choose_shipping(request):
    """``{"code": "std"}``, one of the options offered: answers the repriced cart."""
    body = _json_object(request, "the shipping method")
    code = body.get("code")
    if not isinstance(code, str) or not code:
        return error_json(
            request, 400, 'Send {"code": "..."}, one of the shipping options.', "shipping_method"
        )
    try:
        state = set_shipping_method(request, code)
    except CheckoutError as exc:
        return json_error(request, exc)
    return {
        "checkout_id": state["id"],
        "shipping_method": state["shipping_method"],
        **review_json(review_cart(request)),
    }


@view_config(route_name="api_checkout_orders", request_method="POST", renderer="json")
def api_place_order(request):
    body = _json_object(request, "the payment choice")
    if not isinstance(body.get("method"), str):
        raise HTTPBadRequest('Send {"method": "...", "details": {...}}.')
    try:
        placed = place_order(
            request, body["method"], body.get("details") or {}, body.get("expected_total")
        )
    except CheckoutError as exc:
        return json_error(request, exc)
    result = {"order": order_json(request, placed.order, refunds=[])}
    if placed.requires_action:
        request.response.status_int = 202
        result["action"] = {"method": placed.payment.method, **(placed.payment.action or {})}
    elif not placed.repeated:
        request.response.status_int = 201
    return result


@view_config(route_name="api_order_link", request_method="GET", renderer="json")
def api_order_link(request):
    order = order_by_token(request.dbsession, request.matchdict["token"])
    if order is None:
        raise HTTPNotFound()
    request.response.cache_control.no_store = True
    return {"order": order_json(request, order)}


@view_config(
    route_name="api_orders_history",
    request_method="GET",
    renderer="json",
    permission="account.manage",
)
def api_history(request):
    orders = orders_of_customer(request.dbsession, request.user.id)
    refunds = refunds_by_order(request.dbsession, orders)
    return {"orders": [order_json(request, order, refunds[order.id]) for order in orders]}


# ---------------------------------------------------------------------------
# Staff API (the admin builds on the same services)
# ---------------------------------------------------------------------------


def _staff_order(request) -> Order:
    order = order_by_number(request.dbsession, request.matchdict["number"])
    if order is None:
        raise HTTPNotFound()
    return order


def _body(request) -> dict:
    try:
        body = request.json_body
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def _staff_call(request, operation):
    try:
        order = operation()
    except OrderError as exc:
        return error_json(request, 409, str(exc))
    return {"order": order_json(request, order, staff=True)}


@view_config(
    route_name="api_staff_order",
    request_method="GET",
    renderer="json",
    permission="orders.manage",
)
def api_staff_order(request):
    """The order as staff see it: per line what shipped, was cancelled, refunded and
    put back in stock, and every refund with its status and reason."""
    request.response.cache_control.no_store = True
    return {"order": order_json(request, _staff_order(request), staff=True)}


@view_config(
    route_name="api_order_refunds",
    request_method="POST",
    renderer="json",
    permission="orders.manage",
)
def api_refund(request):
    """Refund part or all of a paid order (``mercato_api.refunds`` reads the body):

    - ``{"lines": [{"sku": "TEE", "quantity": 1}], "shipping": true}`` refunds what the
      customer paid for those units and the shipping, tax included; an ``"amount"``
      may lower that, with a ``"reason"``.
    - ``{"amount": "24.00", "reason": "…"}`` refunds that amount.
    - ``"restock"``: a list of ``{"sku", "quantity"}``, ``false`` (the default), or
      ``true``: the refunded lines' units (every unit not back yet for a refund by
      amount).

    Anything that does not fit the order (a SKU it lacks, more units than it sold, more
    than is left to refund, stock already back) is refused with the reason and nothing
    is refunded. The answer names the amount refunded. An ``Idempotency-Key`` header
    makes a retry answer with the first request's refund instead of refunding again."""

    order = _staff_order(request)
    body = _body(request)
    try:
        key = idempotency.request_key(request)
        if done := refund_made_before(request.dbsession, order, key):
            return _refund_answer(request, order, done, _named_lines(body), body.get("shipping"))
        refund = read_refund(order, body)
    except BadBody as exc:
        return error_json(request, 400, exc.message, exc.field)

    try:
        done = refund_order(
            request.registry,
            request.dbsession,
            order,
            refund.amount,
            actor=actor_of(request),
            reason=refund.reason,
            restock=refund.restock,
            lines=refund.units,
            shipping=refund.shipping,
            request_key=retry_safe_key(request, key),
        )
    except RestockError as exc:
        return error_json(request, 400, str(exc), "restock", exc.sku)
    except OrderError as exc:
        return error_json(request, 409, str(exc))
    return _refund_answer(request, order, done, refund.units, refund.shipping)


def _named_lines(body: dict) -> dict[str, int]:
    """The ``"lines"`` a request names, as the first request with its key read them."""
    return quantities(body.get("lines"), "lines", "to refund", "Refund")


def _refund_answer(request, order, done, units: dict[str, int], shipping) -> dict:
    """The order and the refund made (by this request, or by the first with its key)."""
    return {
        "order": order_json(request, order, staff=True),
        "refund": {
            **refund_json(order, done, staff=True),
            "lines": [{"sku": sku, "quantity": n} for sku, n in units.items()],
            "shipping": shipping is True,
        },
    }


@view_config(
    route_name="api_order_fulfilment",
    request_method="POST",
    renderer="json",
    permission="orders.manage",
)
def api_fulfil(request):
    order = _staff_order(request)

    def run():
        fulfil_order(request.registry, request.dbsession, order, actor=actor_of(request))
        return order

    return _staff_call(request, run)


@view_config(
    route_name="api_order_cancellation",
    request_method="POST",
    renderer="json",
    permission="orders.manage",
)
def api_cancel(request):
    order = _staff_order(request)
    reason = str(_body(request).get("reason", ""))[:500] or "cancelled by staff"

    def run():
        cancel_order(
            request.registry,
            request.dbsession,
            order,
            actor=actor_of(request),
            reason=reason,
        )
        return order

    return _staff_call(request, run)


@view_config(
    route_name="api_order_line_cancellations",
    request_method="POST",
    renderer="json",
    permission="orders.manage",
)
def api_cancel_lines(request):
    """Cancel units of a paid order that have not shipped (``mercato.cancel_order_lines``):
    ``{"lines": [{"sku": "MUG", "quantity": 1}], "reason": "…"}``. They go back in stock
    and what the customer paid for them is refunded, tax included (the shipping too,
    once nothing is left to ship). An ``Idempotency-Key`` header makes a retry answer
    with the first request's refund instead of cancelling again.

    Refused with the kernel's words: 400 for what the order cannot cancel (a SKU it
    lacks, more units than are left to ship), 409 for its state (not paid yet)."""
    order = _staff_order(request)
    body = _body(request)
    try:
        key = idempotency.request_key(request)
        units = quantities(body.get("lines"), "lines", "to cancel", "Cancel")
        if done := refund_made_before(request.dbsession, order, key):
            return _cancellation_answer(request, order, done, units)
        if not units:
            raise BadBody('Send the "lines" to cancel: [{"sku": …, "quantity": …}].', "lines")
    except BadBody as exc:
        return error_json(request, 400, exc.message, exc.field)
    reason = str(body.get("reason", ""))[:500]
    try:
        done = cancel_order_lines(
            request.registry,
            request.dbsession,
            order,
            units,
            actor=actor_of(request),
            reason=reason or "cancelled by staff before shipping",
            request_key=retry_safe_key(request, key),
        )
    except OrderError as exc:
        status = 400 if _not_left_to_ship(order, units) else 409
        return error_json(request, status, str(exc), "lines" if status == 400 else None)
    return _cancellation_answer(request, order, done, units)


def _not_left_to_ship(order: Order, units: dict[str, int]) -> bool:
    """Whether ``units`` names a SKU the paid order lacks, or more than it has to ship."""
    if order.status not in (PAID, PARTIALLY_FULFILLED, FULFILLED, PARTIALLY_REFUNDED):
        return False
    for sku, count in units.items():
        if count > sum(line.quantity_to_ship for line in order.lines if line.sku == sku):
            return True
    return False


def _cancellation_answer(request, order, done, units: dict[str, int]) -> dict:
    return {
        "order": order_json(request, order, staff=True),
        "cancelled": [{"sku": sku, "quantity": n} for sku, n in units.items()],
        "refund": refund_json(order, done, staff=True),
    }
