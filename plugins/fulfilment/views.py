"""Staff shipping parcels: the admin's form (posted from the order page's shipments
panel) and the staff JSON API, both with the kernel's ``orders.manage`` like the
admin's other order actions.

Bad input answers 400 with the reason next to its field; a refusal by the order's
state (not paid, units shipped meanwhile by someone else) 409. Either way the request's
transaction aborts and nothing is shipped. A form or API call sent twice with the same
nonce / ``Idempotency-Key`` records one parcel: the second answer is the first parcel.
"""

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from mercato import OrderError, admin_available, order_by_number

from . import carriers, services
from .schemas import MAX_TRACKING, BadParcel, quantity_field, read_form, read_json
from .slots import MANAGE, panel_values


def _order(request):
    order = order_by_number(request.dbsession, request.matchdict["number"][:32])
    if order is None:
        raise HTTPNotFound()
    return order


# ---------------------------------------------------------------------------
# The admin's form
# ---------------------------------------------------------------------------


def _admin_order(request):
    # The page extends the admin's layout and links to its order page.
    if not admin_available(request):
        raise HTTPNotFound()
    return _order(request)


def _kept(post, order) -> dict[str, str]:
    """What staff typed, to show again next to the reasons (cut short: a pasted
    10 KB "tracking number" is not echoed back whole)."""
    names = ["carrier", "tracking_number", "nonce", *map(quantity_field, order.lines)]
    return {name: post.get(name, "")[: MAX_TRACKING * 2] for name in names}


def _page(request, order, status: int = 200, **state):
    response = render_to_response(
        "fulfilment/admin_page.jinja2", panel_values(request, order, **state), request=request
    )
    response.status_int = status
    response.cache_control.no_store = True
    return response


def _told(shipment) -> str:
    units = ", ".join(f"{line.quantity} × {line.name}" for line in shipment.lines)
    tracking = f", tracking {shipment.tracking_number}" if shipment.tracking_number else ""
    return f"{units} with {carriers.name_of(shipment.carrier)}{tracking}"


@view_config(route_name="fulfilment_admin_shipments", request_method="GET", permission=MANAGE)
def shipments_page(request):
    return _page(request, _admin_order(request))


@view_config(route_name="fulfilment_admin_shipments", request_method="POST", permission=MANAGE)
def ship(request):
    order = _admin_order(request)
    parcel, errors = read_form(request.POST, order, services.carrier_codes(request))
    if errors:
        return _page(request, order, 400, values=_kept(request.POST, order), errors=errors)
    try:
        shipment, created = services.create_shipment(request, order, parcel)
    except OrderError as exc:
        # The order as it is now (locked and re-read), with a fresh form.
        return _page(request, order, 409, refused=str(exc))
    if created:
        request.session.flash(f"Order {order.number}: shipped {_told(shipment)}.")
    else:
        request.session.flash(
            f"Order {order.number}: that parcel was already recorded ({_told(shipment)}); "
            "nothing was shipped twice."
        )
    return HTTPSeeOther(request.route_path("admin_order", number=order.number))


# ---------------------------------------------------------------------------
# The staff JSON API
# ---------------------------------------------------------------------------


def _error(request, status: int, message: str, field=None, sku=None) -> dict:
    """``{"error": {"status", "message", "field"?, "sku"?}}``, as the api plugin answers."""
    request.response.status_int = status
    error = {"status": status, "message": message}
    if field:
        error["field"] = field
    if sku:
        error["sku"] = sku
    return {"error": error}


@view_config(
    route_name="fulfilment_api_shipments",
    request_method="GET",
    renderer="json",
    permission=MANAGE,
)
def api_shipments(request):
    order = _order(request)
    shipments = services.shipments_of(request.dbsession, order)
    return {
        "order": services.order_json(order),
        "shipments": [services.shipment_json(shipment) for shipment in shipments],
    }


@view_config(
    route_name="fulfilment_api_shipments",
    request_method="POST",
    renderer="json",
    permission=MANAGE,
)
def api_ship(request):
    """``{"carrier": "dhl", "tracking_number": "…", "lines": [{"sku", "quantity"}]}``;
    without ``lines`` every unit left ships. 201 with the shipment; the same
    ``Idempotency-Key`` again answers 200 with the parcel it recorded."""
    order = _order(request)
    try:
        body = request.json_body
    except ValueError:
        body = None
    try:
        parcel = read_json(
            body,
            order,
            services.carrier_codes(request),
            request.headers.get("Idempotency-Key"),
        )
    except BadParcel as exc:
        return _error(request, 400, exc.message, exc.field, exc.sku)
    try:
        shipment, created = services.create_shipment(request, order, parcel)
    except OrderError as exc:
        return _error(request, 409, str(exc))
    request.response.status_int = 201 if created else 200
    return {"shipment": services.shipment_json(shipment), "order": services.order_json(order)}
