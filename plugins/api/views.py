"""The checkout unit's JSON API: checkout, the shopper's orders, and staff operations.

A refused checkout answers 4xx: ``tm.commit_veto`` then aborts the transaction, which
voids any authorization it made (the payment data manager).
"""

import colander
from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound
from pyramid.view import view_config

from mercato import (
    CheckoutError,
    Money,
    Order,
    OrderError,
    RestockError,
    actor_of,
    cancel_order,
    checkout_state,
    fulfil_order,
    order_by_number,
    order_by_token,
    orders_of_customer,
    payment_methods,
    place_order,
    refund_order,
    review_cart,
    set_checkout_address,
    storefront_url,
)

from .schemas import RestockLines

# ---------------------------------------------------------------------------
# JSON shapes
# ---------------------------------------------------------------------------


def _line_json(line) -> dict:
    return {
        "sku": line.sku,
        "name": line.name or line.sku,
        "quantity": line.quantity,
        "unit_price": line.unit_price.to_json(),
        "total": line.total.to_json(),
    }


def review_json(review) -> dict:
    priced = review.priced
    return {
        "lines": [_line_json(line) for line in priced.lines],
        "adjustments": [
            {"label": a.label, "amount": a.amount.to_json(), "code": a.code}
            for a in priced.adjustments
        ],
        "subtotal": priced.subtotal.to_json(),
        "total": priced.total.to_json(),
        "problems": review.problems,
    }


def order_json(request, order: Order) -> dict:
    return {
        "number": order.number,
        "status": order.status,
        "email": order.email,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "lines": [_line_json(line) for line in order.lines],
        "adjustments": [
            {"label": a["label"], "amount": a["amount"].to_json(), "code": a["code"]}
            for a in order.adjustment_lines
        ],
        "subtotal": order.subtotal.to_json(),
        "total": order.total.to_json(),
        "captured": order.captured.to_json(),
        "refunded": order.refunded.to_json(),
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "payment_method": order.payment_method,
        "history": [
            {
                "from": change.old_status,
                "to": change.new_status,
                "at": change.created_at.isoformat() if change.created_at else None,
                "reason": change.reason,
            }
            for change in order.history
        ],
        "url": storefront_url(request, "order_link", "api_order_link", token=order.access_token),
    }


def json_error(request, exc: CheckoutError) -> dict:
    request.response.status_int = exc.status
    error = {"status": exc.status, "message": exc.message}
    if exc.field:
        error["field"] = exc.field
    if exc.sku:
        error["sku"] = exc.sku
    return {"error": error}


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
        **review_json(review),
        "payment_methods": [
            {"code": x.code, "label": x.label, "provider": x.provider}
            for x in payment_methods(request)
        ],
    }


@view_config(route_name="api_checkout_address", request_method=("PUT", "POST"), renderer="json")
def api_checkout_address(request):
    body = _json_object(request, "the address")
    try:
        state = set_checkout_address(
            request,
            email=body.get("email", ""),
            shipping=body.get("shipping_address") or {},
            billing=body.get("billing_address"),
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
    return {"checkout_id": state["id"], "email": state["email"]}


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
    result = {"order": order_json(request, placed.order)}
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
    return {"orders": [order_json(request, order) for order in orders]}


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
        request.response.status_int = 409
        return {"error": {"status": 409, "message": str(exc)}}
    return {"order": order_json(request, order)}


def _restock(body: dict) -> bool | dict[str, int]:
    restock = body.get("restock", False)
    if isinstance(restock, bool):
        return restock
    if not isinstance(restock, list):
        raise HTTPBadRequest('Send "restock": true, false or a list of {"sku": …, "quantity": …}.')
    try:
        lines = RestockLines().deserialize(restock)
    except colander.Invalid as exc:
        raise HTTPBadRequest(" ".join(dict.fromkeys(exc.asdict().values()))) from None
    quantities = {}
    for line in lines:
        quantities[line["sku"]] = quantities.get(line["sku"], 0) + line["quantity"]
    return quantities


@view_config(
    route_name="api_order_refunds",
    request_method="POST",
    renderer="json",
    permission="orders.manage",
)
def api_refund(request):
    """``{"amount": "24.00", "reason": "…", "restock": […]}``. ``restock`` names what goes
    back in stock: a list of ``{"sku": "TEE", "quantity": 1}``, ``true`` for every unit
    not back yet, ``false`` (the default) for nothing. A restock that does not fit the
    order is a 400 and nothing is refunded."""

    order = _staff_order(request)
    body = _body(request)
    try:
        amount = Money.parse(str(body.get("amount", "")), order.currency)
    except ValueError:
        raise HTTPBadRequest('Send {"amount": "12.50"} in the order\'s currency.') from None
    restock = _restock(body)

    def run():
        try:
            refund_order(
                request.registry,
                request.dbsession,
                order,
                amount,
                actor=actor_of(request),
                reason=str(body.get("reason", ""))[:500],
                restock=restock,
            )
        except RestockError as exc:
            raise HTTPBadRequest(str(exc)) from None
        return order

    return _staff_call(request, run)


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
