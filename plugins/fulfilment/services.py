"""Recording a shipment, and what pages, the API and the email show of one.

``create_shipment`` does everything in the request's transaction, under the order's
row lock: the kernel marks the units shipped (``mercato.ship_order_lines``: it
captures an authorized payment first, and moves the order to ``partially_fulfilled``
or ``fulfilled``), the parcel is recorded, ``mercato_shipment_created`` is called and
the customer's email is queued. A refusal (an order not paid, units no longer left)
raises ``mercato.OrderError`` and the request aborts: nothing of it is kept.
"""

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mercato import Order, actor_of, enqueue, order_page_url, ship_order_lines

from . import carriers
from .models import Shipment, ShipmentLine

EVENT = "order.shipment"


def carrier_codes(request) -> dict[str, str]:
    """``{code: URL template}`` from ``mercato.fulfilment.carriers``."""
    return request.registry.settings["mercato.fulfilment"]["carriers"]


def carrier_choices(request) -> list[tuple[str, str]]:
    return [(code, carriers.name_of(code)) for code in carrier_codes(request)]


def shipments_of(dbsession, order) -> list[Shipment]:
    return dbsession.scalars(
        select(Shipment)
        .where(Shipment.order_id == order.id)
        .options(selectinload(Shipment.lines))
        .order_by(Shipment.created_at, Shipment.id)
    ).all()


def still_to_ship(order) -> list[dict]:
    """``[{"sku", "name", "quantity"}]`` of the units neither shipped nor cancelled."""
    return [
        {"sku": line.sku, "name": line.name, "quantity": line.quantity_to_ship}
        for line in order.lines
        if line.quantity_to_ship > 0
    ]


def _lock(dbsession, order) -> Order:
    # The kernel's lock (FOR NO KEY UPDATE), taken before the nonce is looked up: a
    # second copy of the same form waits here for the first to commit, then finds it.
    return dbsession.get(
        Order, order.id, with_for_update={"key_share": True}, populate_existing=True
    )


def _already_recorded(dbsession, order, key: str | None) -> Shipment | None:
    if key is None:
        return None
    return dbsession.scalars(
        select(Shipment).where(Shipment.order_id == order.id, Shipment.request_key == key)
    ).first()


def create_shipment(request, order, parcel) -> tuple[Shipment, bool]:
    """Ship ``parcel`` (a ``schemas.Parcel``) of ``order``: ``(shipment, True)``, or the
    shipment its ``request_key`` already recorded and ``False``."""
    dbsession = request.dbsession
    order = _lock(dbsession, order)
    found = _already_recorded(dbsession, order, parcel.request_key)
    if found is not None:
        return found, False
    name = carriers.name_of(parcel.carrier)
    plan = ship_order_lines(
        request.registry,
        dbsession,
        order,
        parcel.units,
        actor=actor_of(request),
        reason=f"shipped with {name}"
        + (f", tracking {parcel.tracking_number}" if parcel.tracking_number else ""),
    )
    shipment = Shipment(
        order_id=order.id,
        carrier=parcel.carrier,
        tracking_number=parcel.tracking_number,
        tracking_url=carriers.tracking_url(
            carrier_codes(request), parcel.carrier, parcel.tracking_number
        ),
        actor=actor_of(request),
        request_key=parcel.request_key,
    )
    # One line per SKU, even when the kernel filled two order lines of the same SKU.
    for line, quantity in plan:
        same = next((row for row in shipment.lines if row.sku == line.sku), None)
        if same is None:
            shipment.lines.append(ShipmentLine(sku=line.sku, name=line.name, quantity=quantity))
        else:
            same.quantity += quantity
    dbsession.add(shipment)
    dbsession.flush()
    request.hooks.mercato_shipment_created(order=order, shipment=hook_shipment(shipment))
    enqueue(dbsession, EVENT, email_payload(request, order, shipment))
    return shipment, True


def hook_shipment(shipment: Shipment) -> dict:
    """The dict ``mercato_shipment_created`` receives (docs/plugins.md)."""
    return {
        "lines": shipment.units,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
    }


def _lines(shipment: Shipment) -> list[dict]:
    return [{"sku": row.sku, "name": row.name, "quantity": row.quantity} for row in shipment.lines]


def email_payload(request, order, shipment: Shipment) -> dict:
    return {
        "email": order.email,
        "number": order.number,
        "customer_name": (order.shipping_address or {}).get("name", ""),
        "lines": _lines(shipment),
        "still_to_ship": still_to_ship(order),
        "carrier": shipment.carrier,
        "carrier_name": carriers.name_of(shipment.carrier),
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "order_url": order_page_url(request, order),
    }


def shipment_json(shipment: Shipment) -> dict:
    return {
        "id": shipment.id,
        "lines": _lines(shipment),
        "carrier": shipment.carrier,
        "carrier_name": carriers.name_of(shipment.carrier),
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "actor": shipment.actor,
        "created_at": shipment.created_at.isoformat() if shipment.created_at else None,
    }


def order_json(order) -> dict:
    return {"number": order.number, "status": order.status, "still_to_ship": still_to_ship(order)}
