"""Checkout pages, order pages and their JSON twins.

A refused checkout answers 4xx: ``tm.commit_veto`` then aborts the transaction, which
voids any authorization it made (the payment data manager).
"""

import colander
from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound, HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import select

from ..money import Money
from ..security import can_view_order
from . import checkout as co
from . import models as m
from . import services
from .schemas import CheckoutAddressSchema, RestockLines, address_from_form, flat_errors

MAX_DETAIL_LENGTH = 500


# ---------------------------------------------------------------------------
# JSON shapes
# ---------------------------------------------------------------------------


def review_json(review: co.Review) -> dict:
    priced = review.priced
    return {
        "lines": [
            {
                "sku": line.sku,
                "name": line.name or line.sku,
                "quantity": line.quantity,
                "unit_price": line.unit_price.to_json(),
                "total": line.total.to_json(),
            }
            for line in priced.lines
        ],
        "adjustments": [
            {"label": a.label, "amount": a.amount.to_json(), "code": a.code}
            for a in priced.adjustments
        ],
        "subtotal": priced.subtotal.to_json(),
        "total": priced.total.to_json(),
        "problems": review.problems,
    }


def order_json(request, order: m.Order) -> dict:
    return {
        "number": order.number,
        "status": order.status,
        "email": order.email,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": line.unit_price.to_json(),
                "total": line.total.to_json(),
            }
            for line in order.lines
        ],
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
        "url": request.route_url("order_link", token=order.access_token),
    }


def json_error(request, exc: co.CheckoutError) -> dict:
    request.response.status_int = exc.status
    error = {"status": exc.status, "message": exc.message}
    if exc.field:
        error["field"] = exc.field
    if exc.sku:
        error["sku"] = exc.sku
    return {"error": error}


# ---------------------------------------------------------------------------
# Storefront pages
# ---------------------------------------------------------------------------


def _page(request, template_vars: dict) -> dict:
    request.response.cache_control.no_store = True
    return template_vars


@view_config(route_name="checkout", request_method="GET")
def checkout_start(request):
    state = co.checkout_state(request)
    step = "checkout_review" if state.get("shipping") else "checkout_address"
    return HTTPSeeOther(request.route_url(step))


@view_config(
    route_name="checkout_address",
    request_method="GET",
    renderer="checkout/address.jinja2",
)
def address_form(request):
    state = co.checkout_state(request)
    user = request.user
    values = {
        "email": state.get("email") or getattr(user, "email", "") or "",
        **(state.get("shipping") or {}),
    }
    billing = state.get("billing")
    if billing:
        values.update({f"billing_{k}": v for k, v in billing.items()})
        values["billing_different"] = "on"
    return _page(request, {"values": values, "errors": {}, "step": "address"})


@view_config(
    route_name="checkout_address",
    request_method="POST",
    renderer="checkout/address.jinja2",
)
def address_submit(request):
    params = request.POST
    different = bool(params.get("billing_different"))
    data = {
        "email": params.get("email", ""),
        "shipping": address_from_form(params),
        "billing": address_from_form(params, "billing_") if different else colander.null,
    }
    try:
        valid = CheckoutAddressSchema().deserialize(data)
    except colander.Invalid as exc:
        request.response.status_int = 400
        return _page(
            request, {"values": dict(params), "errors": flat_errors(exc), "step": "address"}
        )
    co.save_checkout_state(
        request, email=valid["email"], shipping=valid["shipping"], billing=valid["billing"]
    )
    return HTTPSeeOther(request.route_url("checkout_review"))


@view_config(route_name="checkout_review", request_method="GET", renderer="checkout/review.jinja2")
def review_page(request):
    state = co.checkout_state(request)
    if not state.get("shipping"):
        return HTTPSeeOther(request.route_url("checkout_address"))
    review = co.review_cart(request)
    return _page(request, {"review": review, "state": state, "step": "review"})


def _payment_page(request, error: co.CheckoutError | None = None, selected: str = "") -> dict:
    state = co.checkout_state(request)
    review = co.review_cart(request)
    methods = co.payment_methods(request)
    return _page(
        request,
        {
            "review": review,
            "state": state,
            "methods": methods,
            "selected": selected or (methods[0].code if len(methods) == 1 else ""),
            "error": error,
            "step": "payment",
        },
    )


@view_config(
    route_name="checkout_payment", request_method="GET", renderer="checkout/payment.jinja2"
)
def payment_page(request):
    if not co.checkout_state(request).get("shipping"):
        return HTTPSeeOther(request.route_url("checkout_address"))
    return _payment_page(request)


def _details(params, prefix: str = "details.") -> dict:
    details = {}
    for key, value in params.items():
        if key.startswith(prefix):
            details[key[len(prefix) :]] = value
    return details


def _expected_total(value) -> int | None:
    """The total the shopper saw, in minor units (absent: an older client, not checked)."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 16:
        return int(value)
    raise HTTPBadRequest("The total sent with the payment could not be read.")


def _check_details(details) -> dict:
    if not isinstance(details, dict) or len(details) > 20:
        raise HTTPBadRequest("The payment details could not be read.")
    for key, value in details.items():
        if not isinstance(key, str) or len(key) > 64:
            raise HTTPBadRequest("The payment details could not be read.")
        if not isinstance(value, str) or len(value) > MAX_DETAIL_LENGTH:
            raise HTTPBadRequest("The payment details could not be read.")
    return details


@view_config(
    route_name="checkout_payment", request_method="POST", renderer="checkout/payment.jinja2"
)
def payment_submit(request):
    method = request.POST.get("method", "")
    details = _check_details(_details(request.POST))
    expected_total = _expected_total(request.POST.get("expected_total"))
    try:
        placed = co.place_order(request, method, details, expected_total)
    except co.CheckoutError as exc:
        request.response.status_int = exc.status
        return _payment_page(request, exc, selected=method)
    return _after_placing(request, placed)


def _after_placing(request, placed: co.Placed):
    order = placed.order
    if placed.requires_action:
        return _action_page(request, order, placed.payment)
    if order.status in (m.AUTHORIZED, m.PAID, m.FULFILLED):
        # Again for a repeat: the submit that placed it may have died before finishing.
        co.finish_checkout(request, order)
    return HTTPSeeOther(request.route_url("checkout_confirmation", token=order.access_token))


def _action_page(request, order: m.Order, payment: m.Payment):
    from pyramid.renderers import render_to_response

    method = next((x for x in co.payment_methods(request) if x.code == payment.method), None)
    if method is None or not method.action_template:
        raise HTTPBadRequest("This payment cannot be completed here any more.")
    response = render_to_response(
        "checkout/authenticate.jinja2",
        {"order": order, "payment": payment, "method": method, "action": payment.action or {}},
        request=request,
    )
    response.cache_control.no_store = True
    return response


def _order_by_token(request, token: str) -> m.Order:
    if not token or len(token) > 64:
        raise HTTPNotFound()
    order = request.dbsession.scalars(select(m.Order).where(m.Order.access_token == token)).first()
    if order is None:
        raise HTTPNotFound()
    return order


@view_config(
    route_name="checkout_confirmation", request_method="GET", renderer="orders/order.jinja2"
)
def confirmation(request):
    order = _order_by_token(request, request.matchdict["token"])
    if order.status == m.AWAITING_PAYMENT:
        payment = order.live_payment
        if payment is not None and payment.status == m.PAYMENT_REQUIRES_ACTION:
            return _action_page(request, order, payment)
    return _page(request, {"order": order, "thanks": True})


@view_config(route_name="order_link", request_method="GET", renderer="orders/order.jinja2")
def order_link(request):
    order = _order_by_token(request, request.matchdict["token"])
    return _page(request, {"order": order, "thanks": False})


def _history(request) -> list[m.Order]:
    return request.dbsession.scalars(
        select(m.Order)
        .where(m.Order.customer_id == request.user.id)
        .order_by(m.Order.created_at.desc(), m.Order.id.desc())
        .limit(100)
    ).all()


@view_config(
    route_name="orders_history",
    request_method="GET",
    renderer="orders/history.jinja2",
    permission="account.manage",
)
def history(request):
    return _page(request, {"orders": _history(request)})


def _customers_order(request, number: str) -> m.Order:
    order = request.dbsession.scalars(select(m.Order).where(m.Order.number == number)).first()
    # Someone else's order and no order at all look the same: nothing to learn here.
    if order is None or not can_view_order(request, order):
        raise HTTPNotFound()
    return order


@view_config(
    route_name="orders_history_order",
    request_method="GET",
    renderer="orders/order.jinja2",
    permission="account.manage",
)
def history_order(request):
    order = _customers_order(request, request.matchdict["number"])
    return _page(request, {"order": order, "thanks": False})


# ---------------------------------------------------------------------------
# JSON API
# ---------------------------------------------------------------------------


@view_config(route_name="api_checkout", request_method="GET", renderer="json")
def api_checkout(request):
    state = co.checkout_state(request)
    review = co.review_cart(request)
    request.response.cache_control.no_store = True
    return {
        "checkout_id": state["id"],
        "email": state.get("email"),
        "shipping_address": state.get("shipping"),
        "billing_address": state.get("billing"),
        **review_json(review),
        "payment_methods": [
            {"code": x.code, "label": x.label, "provider": x.provider}
            for x in co.payment_methods(request)
        ],
    }


@view_config(route_name="api_checkout_address", request_method=("PUT", "POST"), renderer="json")
def api_checkout_address(request):
    try:
        body = request.json_body
    except ValueError:
        raise HTTPBadRequest("Send the address as a JSON object.") from None
    if not isinstance(body, dict):
        raise HTTPBadRequest("Send the address as a JSON object.")
    data = {
        "email": body.get("email", ""),
        "shipping": body.get("shipping_address") or {},
        "billing": body.get("billing_address") or colander.null,
    }
    try:
        valid = CheckoutAddressSchema().deserialize(data)
    except colander.Invalid as exc:
        request.response.status_int = 400
        return {
            "error": {
                "status": 400,
                "message": "Some fields need your attention.",
                "fields": exc.asdict(),
            }
        }
    state = co.save_checkout_state(
        request, email=valid["email"], shipping=valid["shipping"], billing=valid["billing"]
    )
    return {"checkout_id": state["id"], "email": state["email"]}


@view_config(route_name="api_checkout_orders", request_method="POST", renderer="json")
def api_place_order(request):
    try:
        body = request.json_body
    except ValueError:
        raise HTTPBadRequest("Send the payment choice as a JSON object.") from None
    if not isinstance(body, dict) or not isinstance(body.get("method"), str):
        raise HTTPBadRequest('Send {"method": "...", "details": {...}}.')
    details = _check_details(body.get("details") or {})
    expected_total = _expected_total(body.get("expected_total"))
    try:
        placed = co.place_order(request, body["method"], details, expected_total)
    except co.CheckoutError as exc:
        return json_error(request, exc)
    order = placed.order
    result = {"order": order_json(request, order)}
    if placed.requires_action:
        request.response.status_int = 202
        result["action"] = {"method": placed.payment.method, **(placed.payment.action or {})}
        return result
    if order.status in (m.AUTHORIZED, m.PAID, m.FULFILLED):
        # Again for a repeat: the submit that placed it may have died before finishing.
        co.finish_checkout(request, order)
    if not placed.repeated:
        request.response.status_int = 201
    return result


@view_config(route_name="api_order_link", request_method="GET", renderer="json")
def api_order_link(request):
    order = _order_by_token(request, request.matchdict["token"])
    request.response.cache_control.no_store = True
    return {"order": order_json(request, order)}


@view_config(
    route_name="api_orders_history",
    request_method="GET",
    renderer="json",
    permission="account.manage",
)
def api_history(request):
    return {"orders": [order_json(request, order) for order in _history(request)]}


# ---------------------------------------------------------------------------
# Staff API (the admin builds on the same services)
# ---------------------------------------------------------------------------


def _staff_order(request) -> m.Order:
    number = request.matchdict["number"]
    order = request.dbsession.scalars(select(m.Order).where(m.Order.number == number)).first()
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
    except services.OrderError as exc:
        request.response.status_int = 409
        return {"error": {"status": 409, "message": str(exc)}}
    return {"order": order_json(request, order)}


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
    restock = body.get("restock", False)
    if isinstance(restock, list):
        try:
            lines = RestockLines().deserialize(restock)
        except colander.Invalid as exc:
            raise HTTPBadRequest(" ".join(dict.fromkeys(exc.asdict().values()))) from None
        restock = {}
        for line in lines:
            restock[line["sku"]] = restock.get(line["sku"], 0) + line["quantity"]
    elif not isinstance(restock, bool):
        raise HTTPBadRequest('Send "restock": true, false or a list of {"sku": …, "quantity": …}.')

    def run():
        try:
            services.refund(
                request.registry,
                request.dbsession,
                order,
                amount,
                actor=services.actor_of(request),
                reason=str(body.get("reason", ""))[:500],
                restock=restock,
            )
        except services.RestockError as exc:
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
        services.fulfil(
            request.registry, request.dbsession, order, actor=services.actor_of(request)
        )
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
        services.cancel(
            request.registry,
            request.dbsession,
            order,
            actor=services.actor_of(request),
            reason=reason,
        )
        return order

    return _staff_call(request, run)
