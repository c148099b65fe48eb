"""A stand-in plugin of the tests (enabled by its dotted name) that hears
``mercato_shipment_created``, as a warehouse or ERP integration would: what it heard,
and the order as it was inside the shipment's transaction. ``REFUSE`` holds a message
to refuse the next shipments with, as an integration that cannot take them would."""

from pyramid.httpexceptions import HTTPConflict

from mercato import hookimpl

HEARD: list[dict] = []
REFUSE: list[str] = []


@hookimpl
def mercato_shipment_created(order, shipment):
    if REFUSE:
        raise HTTPConflict(REFUSE[0])
    HEARD.append(
        {
            "number": order.number,
            "status": order.status,
            "shipped": {line.sku: line.quantity_shipped for line in order.lines},
            "shipment": shipment,
        }
    )


def reset() -> None:
    HEARD.clear()
    REFUSE.clear()
