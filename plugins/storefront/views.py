"""Checkout pages and order pages.

A refused checkout answers 4xx: ``tm.commit_veto`` then aborts the transaction, which
voids any authorization it made (the kernel's checkout unit).
"""

import colander
from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
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
    CheckoutError,
    Refund,
    balance_due,
    can_view_order,
    checkout_state,
    country_name,
    order_by_number,
    order_by_token,
    orders_of_customer,
    pay_balance,
    payment_methods,
    place_order,
    region_name,
    review_cart,
    set_checkout_address,
    set_shipping_method,
)

from .address_form import (
    BILLING,
    address_from_form,
    form_errors,
    form_values,
    region_groups,
    region_options,
    saved_address,
)

DETAILS_PREFIX = "details."

# (step, label, route) in the order the shopper meets them.
STEPS = (
    ("address", "Address", "checkout_address"),
    ("shipping", "Shipping", "checkout_shipping"),
    ("review", "Review", "checkout_review"),
    ("payment", "Payment", "checkout_payment"),
)


def _page(request, template_vars: dict) -> dict:
    request.response.cache_control.no_store = True
    return {"country_name": country_name, "region_name": region_name, **template_vars}


def _ships_goods(request) -> bool:
    """Whether a plugin offers shipping methods: then every order needs one, chosen at
    the shipping step (a shop without such a plugin has no shipping step)."""
    return bool(request.hooks.mercato_shipping_options.get_hookimpls())


def _checkout_page(request, step: str, template_vars: dict) -> dict:
    shipping = _ships_goods(request)
    steps = [s for s in STEPS if shipping or s[0] != "shipping"]
    return _page(request, {**template_vars, "step": step, "steps": steps})


def _must_choose_shipping(review) -> bool:
    """The cart needs a shipping method and has none: none chosen yet, or the one
    chosen is not offered for the address as it is now (the shopper changed it)."""
    priced = review.priced
    return priced.shipping_required and bool(priced.lines) and priced.shipping is None


# ---------------------------------------------------------------------------
# Checkout: address, shipping, review, payment
# ---------------------------------------------------------------------------


@view_config(route_name="checkout", request_method="GET")
def checkout_start(request):
    step = "checkout_review" if checkout_state(request).get("shipping") else "checkout_address"
    return HTTPSeeOther(request.route_url(step))


def _saved_addresses(request) -> list:
    return list(request.user.addresses) if request.user is not None else []


def _address_page(request, values: dict, errors: dict, saved: list) -> dict:
    return _checkout_page(
        request,
        "address",
        {
            "values": values,
            "errors": errors,
            "review": review_cart(request),
            "saved_addresses": saved,
            "region_groups": region_groups(),
            "region_options": region_options,
        },
    )


@view_config(
    route_name="checkout_address", request_method="GET", renderer="checkout/address.jinja2"
)
def address_form(request):
    state = checkout_state(request)
    user = request.user
    saved = _saved_addresses(request)
    values = {
        "email": state.get("email") or getattr(user, "email", "") or "",
        "name": getattr(user, "name", "") or "",
        "vat_number": state.get("vat_number", ""),
        **form_values(state.get("shipping")),
    }
    # "Ship here" on a saved address: the form filled with it, for the shopper to check.
    chosen = next((a for a in saved if str(a.id) == request.GET.get("address")), None)
    if chosen is not None:
        values.update(form_values(saved_address(chosen)))
    if state.get("billing"):
        values.update(form_values(state["billing"], BILLING), billing_different="on")
    return _address_page(request, values, {}, saved)


@view_config(
    route_name="checkout_address", request_method="POST", renderer="checkout/address.jinja2"
)
def address_submit(request):
    params = request.POST
    # The billing fields are on the page either way (shown by CSS when the box is
    # ticked): without the tick they are not read.
    billing = address_from_form(params, BILLING) if params.get("billing_different") else None
    try:
        set_checkout_address(
            request,
            email=params.get("email", ""),
            shipping=address_from_form(params),
            billing=billing,
            vat_number=params.get("vat_number", ""),
        )
    except colander.Invalid as exc:
        request.response.status_int = 400
        return _address_page(request, dict(params), form_errors(exc), _saved_addresses(request))
    # A new address may change the methods offered and their prices: choose again.
    step = "checkout_shipping" if _ships_goods(request) else "checkout_review"
    return HTTPSeeOther(request.route_url(step))


def _shipping_page(request, error: str | None = None) -> dict:
    review = review_cart(request)
    state = checkout_state(request)
    if review.priced.lines and not review.priced.shipping_options:
        # "Sorry, we do not ship to …" is among the review's problems.
        request.response.status_int = 409
    return _checkout_page(
        request,
        "shipping",
        {
            "review": review,
            "state": state,
            "options": review.priced.shipping_options,
            "selected": state.get("shipping_method"),
            "error": error,
        },
    )


@view_config(
    route_name="checkout_shipping", request_method="GET", renderer="checkout/shipping.jinja2"
)
def shipping_form(request):
    if not checkout_state(request).get("shipping"):
        return HTTPSeeOther(request.route_url("checkout_address"))
    if not _ships_goods(request):
        return HTTPSeeOther(request.route_url("checkout_review"))
    return _shipping_page(request)


@view_config(
    route_name="checkout_shipping", request_method="POST", renderer="checkout/shipping.jinja2"
)
def shipping_submit(request):
    if not checkout_state(request).get("shipping"):
        return HTTPSeeOther(request.route_url("checkout_address"))
    try:
        set_shipping_method(request, request.POST.get("shipping_method", ""))
    except CheckoutError as exc:
        request.response.status_int = exc.status
        return _shipping_page(request, exc.message)
    return HTTPSeeOther(request.route_url("checkout_review"))


@view_config(route_name="checkout_review", request_method="GET", renderer="checkout/review.jinja2")
def review_page(request):
    state = checkout_state(request)
    if not state.get("shipping"):
        return HTTPSeeOther(request.route_url("checkout_address"))
    review = review_cart(request)
    if _must_choose_shipping(review):
        return HTTPSeeOther(request.route_url("checkout_shipping"))
    return _checkout_page(request, "review", {"review": review, "state": state})


def _payment_page(request, review, error: CheckoutError | None = None, selected: str = ""):
    methods = payment_methods(request)
    return _checkout_page(
        request,
        "payment",
        {
            "review": review,
            "state": checkout_state(request),
            "methods": methods,
            "selected": selected or (methods[0].code if len(methods) == 1 else ""),
            "error": error,
        },
    )


@view_config(
    route_name="checkout_payment", request_method="GET", renderer="checkout/payment.jinja2"
)
def payment_page(request):
    if not checkout_state(request).get("shipping"):
        return HTTPSeeOther(request.route_url("checkout_address"))
    review = review_cart(request)
    if _must_choose_shipping(review):
        return HTTPSeeOther(request.route_url("checkout_shipping"))
    return _payment_page(request, review)


@view_config(
    route_name="checkout_payment", request_method="POST", renderer="checkout/payment.jinja2"
)
def payment_submit(request):
    method = request.POST.get("method", "")
    details = _payment_details(request)
    try:
        placed = place_order(request, method, details, request.POST.get("expected_total"))
    except CheckoutError as exc:
        request.response.status_int = exc.status
        # Priced again: the page shows (and its form expects) the total as it is now.
        return _payment_page(request, review_cart(request), exc, selected=method)
    if placed.requires_action:
        return _action_page(request, placed.order, placed.payment)
    return HTTPSeeOther(request.route_url("checkout_confirmation", token=placed.order.access_token))


def _payment_details(request) -> dict:
    """What the payment method's fields posted (``details.*``)."""
    return {
        key[len(DETAILS_PREFIX) :]: value
        for key, value in request.POST.items()
        if key.startswith(DETAILS_PREFIX)
    }


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

# Where an order stands, in the customer's words.
STATUS_LABELS = {
    AWAITING_PAYMENT: "Waiting for payment",
    AUTHORIZED: "Payment authorized",
    PAID: "Paid",
    PARTIALLY_FULFILLED: "Partially shipped",
    FULFILLED: "Shipped",
    CANCELLED: "Cancelled",
    PARTIALLY_REFUNDED: "Partially refunded",
    REFUNDED: "Refunded",
}
# Orders whose lines may still ship.
SHIPPING = (PAID, PARTIALLY_FULFILLED, PARTIALLY_REFUNDED)


def line_progress(order, line) -> list[str]:
    """What became of a line's units since the sale (``["1 shipped", "1 cancelled"]``),
    and what is still to ship once some of it has moved; nothing for a line untouched."""
    notes = ["added after your order"] if line.added else []
    notes += [
        f"{count} {what}"
        for count, what in (
            (line.quantity_shipped, "shipped"),
            (line.quantity_cancelled, "cancelled"),
            (line.quantity_refunded, "refunded"),
            # Taken off before the money was taken: never charged.
            (line.quantity_released, "not charged"),
        )
        if count
    ]
    if notes and line.quantity_to_ship and order.status in SHIPPING:
        notes.append(f"{line.quantity_to_ship} still to ship")
    return notes


def _order_page(request, order, thanks: bool, error: CheckoutError | None = None) -> dict:
    refunds = request.dbsession.scalars(
        select(Refund)
        .where(Refund.order_id == order.id, Refund.status == "succeeded")
        .order_by(Refund.id)
    ).all()
    return _page(
        request,
        {
            "order": order,
            "thanks": thanks,
            "labels": STATUS_LABELS,
            "refunds": refunds,
            "progress": {line.id: line_progress(order, line) for line in order.lines},
            # What a change left to pay, and the form that pays it (the payment link).
            "balance": balance_due(order),
            "methods": payment_methods(request),
            "error": error,
        },
    )


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
    return _order_page(request, order, thanks=True)


@view_config(route_name="order_balance", request_method="POST", renderer="orders/order.jinja2")
def balance_submit(request):
    """Pay the balance a change left (``mercato.pay_balance``), from the order's page:
    the customer's link, a guest's too. 3-D Secure is completed as at checkout."""
    order = _order_by_token(request)
    details = _payment_details(request)
    try:
        payment = pay_balance(request, order, request.POST.get("method", ""), details)
    except CheckoutError as exc:
        request.response.status_int = exc.status
        return _order_page(request, order, thanks=False, error=exc)
    if payment.status == "requires_action":
        return _action_page(request, order, payment)
    request.session.flash("Thank you: the balance of your order is paid.")
    return HTTPSeeOther(request.route_url("order_link", token=order.access_token))


@view_config(route_name="order_link", request_method="GET", renderer="orders/order.jinja2")
def order_link(request):
    return _order_page(request, _order_by_token(request), thanks=False)


@view_config(
    route_name="orders_history",
    request_method="GET",
    renderer="orders/history.jinja2",
    permission="account.manage",
)
def history(request):
    orders = orders_of_customer(request.dbsession, request.user.id)
    return _page(request, {"orders": orders, "labels": STATUS_LABELS})


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
    return _order_page(request, order, thanks=False)
