"""Checkout pages and order pages.

A refused checkout answers 4xx: ``tm.commit_veto`` then aborts the transaction, which
voids any authorization it made (the kernel's checkout unit).
"""

import colander
from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from mercato import (
    CheckoutError,
    can_view_order,
    checkout_state,
    order_by_number,
    order_by_token,
    orders_of_customer,
    payment_methods,
    place_order,
    review_cart,
    set_checkout_address,
)

ADDRESS_FIELDS = ("name", "line1", "line2", "postal_code", "city", "country", "phone")
DETAILS_PREFIX = "details."


def _page(request, template_vars: dict) -> dict:
    request.response.cache_control.no_store = True
    return template_vars


# ---------------------------------------------------------------------------
# Checkout: address, review, payment
# ---------------------------------------------------------------------------


@view_config(route_name="checkout", request_method="GET")
def checkout_start(request):
    step = "checkout_review" if checkout_state(request).get("shipping") else "checkout_address"
    return HTTPSeeOther(request.route_url(step))


@view_config(
    route_name="checkout_address", request_method="GET", renderer="checkout/address.jinja2"
)
def address_form(request):
    state = checkout_state(request)
    values = {
        "email": state.get("email") or getattr(request.user, "email", "") or "",
        **(state.get("shipping") or {}),
    }
    billing = state.get("billing")
    if billing:
        values.update({f"billing_{k}": v for k, v in billing.items()})
        values["billing_different"] = "on"
    return _page(request, {"values": values, "errors": {}, "step": "address"})


def _address_from_form(params, prefix: str = "") -> dict:
    return {name: params.get(prefix + name, "") for name in ADDRESS_FIELDS}


def _form_errors(exc: colander.Invalid) -> dict[str, str]:
    """``{"shipping.city": …, "billing.city": …}`` → the form's ``city``, ``billing_city``."""
    errors = {}
    for key, message in exc.asdict().items():
        section, _, field = key.partition(".")
        if section == "billing":
            errors[f"billing_{field}"] = message
        elif section == "shipping":
            errors[field] = message
        else:
            errors[key] = message
    return errors


@view_config(
    route_name="checkout_address", request_method="POST", renderer="checkout/address.jinja2"
)
def address_submit(request):
    params = request.POST
    try:
        set_checkout_address(
            request,
            email=params.get("email", ""),
            shipping=_address_from_form(params),
            billing=_address_from_form(params, "billing_")
            if params.get("billing_different")
            else None,
        )
    except colander.Invalid as exc:
        request.response.status_int = 400
        return _page(
            request, {"values": dict(params), "errors": _form_errors(exc), "step": "address"}
        )
    return HTTPSeeOther(request.route_url("checkout_review"))


@view_config(route_name="checkout_review", request_method="GET", renderer="checkout/review.jinja2")
def review_page(request):
    state = checkout_state(request)
    if not state.get("shipping"):
        return HTTPSeeOther(request.route_url("checkout_address"))
    return _page(request, {"review": review_cart(request), "state": state, "step": "review"})


def _payment_page(request, error: CheckoutError | None = None, selected: str = "") -> dict:
    methods = payment_methods(request)
    return _page(
        request,
        {
            "review": review_cart(request),
            "state": checkout_state(request),
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
    if not checkout_state(request).get("shipping"):
        return HTTPSeeOther(request.route_url("checkout_address"))
    return _payment_page(request)


@view_config(
    route_name="checkout_payment", request_method="POST", renderer="checkout/payment.jinja2"
)
def payment_submit(request):
    method = request.POST.get("method", "")
    details = {
        key[len(DETAILS_PREFIX) :]: value
        for key, value in request.POST.items()
        if key.startswith(DETAILS_PREFIX)
    }
    try:
        placed = place_order(request, method, details, request.POST.get("expected_total"))
    except CheckoutError as exc:
        request.response.status_int = exc.status
        return _payment_page(request, exc, selected=method)
    if placed.requires_action:
        return _action_page(request, placed.order, placed.payment)
    return HTTPSeeOther(request.route_url("checkout_confirmation", token=placed.order.access_token))


def _action_page(request, order, payment):
    """The page where the shopper completes the payment in the browser (3-D Secure),
    with the payment method's own fragment."""
    method = next((x for x in payment_methods(request) if x.code == payment.method), None)
    if method is None or not method.action_template:
        raise HTTPBadRequest("This payment cannot be completed here any more.")
    response = render_to_response(
        "checkout/authenticate.jinja2",
        {"order": order, "payment": payment, "method": method, "action": payment.action or {}},
        request=request,
    )
    response.cache_control.no_store = True
    return response


# ---------------------------------------------------------------------------
# Orders: the confirmation, the secret link, the account's history
# ---------------------------------------------------------------------------


def _order_by_token(request):
    order = order_by_token(request.dbsession, request.matchdict["token"])
    if order is None:
        raise HTTPNotFound()
    return order


@view_config(
    route_name="checkout_confirmation", request_method="GET", renderer="orders/order.jinja2"
)
def confirmation(request):
    order = _order_by_token(request)
    payment = order.payment_to_complete
    if payment is not None:
        return _action_page(request, order, payment)
    return _page(request, {"order": order, "thanks": True})


@view_config(route_name="order_link", request_method="GET", renderer="orders/order.jinja2")
def order_link(request):
    return _page(request, {"order": _order_by_token(request), "thanks": False})


@view_config(
    route_name="orders_history",
    request_method="GET",
    renderer="orders/history.jinja2",
    permission="account.manage",
)
def history(request):
    return _page(request, {"orders": orders_of_customer(request.dbsession, request.user.id)})


@view_config(
    route_name="orders_history_order",
    request_method="GET",
    renderer="orders/order.jinja2",
    permission="account.manage",
)
def history_order(request):
    order = order_by_number(request.dbsession, request.matchdict["number"])
    # Someone else's order and no order at all look the same: nothing to learn here.
    if order is None or not can_view_order(request, order):
        raise HTTPNotFound()
    return _page(request, {"order": order, "thanks": False})
