"""The plugin's parts of other plugins' pages: the shipments panel of the admin's
order page (slot ``admin_order``), in place of the admin's own quick ship form a
pointer to it (``admin_order_ship``: one way to ship, which records the parcel), and
the shipments of the customer's order page (slot ``order_details``). All get the
order from the slot's context."""

import secrets

from markupsafe import Markup
from pyramid.renderers import render

from mercato import (
    AUTHORIZED,
    PAID,
    PARTIALLY_FULFILLED,
    PARTIALLY_REFUNDED,
    UNSHIPPED_STATUSES,
)

from . import carriers, services
from .schemas import quantity_field

# Where units may still ship (an authorized payment is captured first).
SHIPPABLE = (AUTHORIZED, PAID, PARTIALLY_FULFILLED, PARTIALLY_REFUNDED)
MANAGE = "orders.manage"


def can_ship(request, order) -> bool:
    """Units are left to ship, the order's state allows it, and staff may."""
    return (
        any(line.quantity_to_ship > 0 for line in order.lines)
        and order.status in SHIPPABLE
        and bool(request.has_permission(MANAGE))
    )


def panel_values(request, order, **state) -> dict:
    """What the admin's shipments panel shows: the parcels, and the form to ship what is
    left (for staff who may, while the order's state allows it). ``state`` holds a
    refused form's ``values``, ``errors`` and ``refused`` message."""
    to_ship = [line for line in order.lines if line.quantity_to_ship > 0]
    values = state.get("values")
    if values is None:
        # Everything left, by default; a fresh nonce so this form ships once.
        values = {quantity_field(line): str(line.quantity_to_ship) for line in to_ship}
        values["nonce"] = secrets.token_urlsafe(24)
    return {
        "order": order,
        "shipments": services.shipments_of(request.dbsession, order),
        "to_ship": to_ship,
        "still_to_ship": services.still_to_ship(order),
        "can_ship": can_ship(request, order),
        "carriers": services.carrier_choices(request),
        "carrier_name": carriers.name_of,
        "quantity_field": quantity_field,
        "values": values,
        "errors": state.get("errors", {}),
        "refused": state.get("refused"),
    }


def admin_panel(request, context: dict) -> Markup | None:
    order = context.get("order")
    if order is None:
        return None
    values = panel_values(request, order)
    # The template autoescapes every value: its output is HTML we can vouch for.
    return Markup(render("fulfilment/admin_panel.jinja2", values, request=request))  # noqa: S704


def ship_here(request, context: dict) -> Markup | None:
    order = context.get("order")
    if order is None or not can_ship(request, order):
        return None
    return Markup(
        '<div class="action" id="ship-pointer"><h3>Ship</h3><p>Parcels, with their carrier '
        'and tracking number, ship from <a href="#shipments">Shipments</a>.</p></div>'
    )


def customer_section(request, context: dict) -> Markup | None:
    order = context.get("order")
    # A shipment moves its order on (mercato.ship_order_lines): an order not shipped
    # (its confirmation page) has none.
    if order is None or order.status in UNSHIPPED_STATUSES:
        return None
    shipments = services.shipments_of(request.dbsession, order)
    if not shipments:
        return None
    values = {
        "order": order,
        "shipments": shipments,
        "carrier_name": carriers.name_of,
        # What is still coming, while part of the order is on its way.
        "still_to_ship": services.still_to_ship(order) if order.status in SHIPPABLE else [],
    }
    return Markup(render("fulfilment/order_details.jinja2", values, request=request))  # noqa: S704
