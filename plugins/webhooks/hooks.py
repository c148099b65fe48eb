"""The webhooks plugin's hook implementations (its entry point): the events it
records, inside the transaction of each change, and their delivery after the commit
(``mercato_notify``) and by ``mercato worker`` (``mercato_worker_pass``), which also
deletes events older than ``mercato.webhooks.keep_days``."""

from pathlib import Path

from sqlalchemy.orm import object_session

from mercato import CANCELLED, FULFILLED, PAID, PARTIALLY_FULFILLED, AdminLink, hookimpl

from . import delivery, events, schemas
from .views import MANAGE


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("mercato_webhooks:templates", name=".jinja2")
    config.include("mercato_webhooks.routes")


@hookimpl
def mercato_migration_folders():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def mercato_permissions():
    # Admins only: an endpoint sends orders, addresses and emails wherever it points.
    return {MANAGE: ["admin"]}


@hookimpl
def mercato_admin_links(request):
    return [AdminLink("Webhooks", request.route_path("webhooks_admin"), MANAGE)]


# ---------------------------------------------------------------------------
# Events, recorded in the transaction of the change
# ---------------------------------------------------------------------------


@hookimpl
def mercato_user_erased(request, user):
    # The systems the shop hands customers' data to must erase them as well.
    events.record(
        request.dbsession, "account.erased", {"customer": {"id": user.id, "email": user.email}}
    )


@hookimpl
def mercato_order_placed(order):
    events.record(object_session(order), "order.placed", lambda: events.order_json(order))


@hookimpl
def mercato_order_status_changed(order, old, new):
    dbsession = object_session(order)
    if new == PAID:
        events.record(dbsession, "order.paid", lambda: events.order_json(order))
    elif new == CANCELLED:
        events.record(dbsession, "order.cancelled", lambda: events.order_json(order))
    elif new in (PARTIALLY_FULFILLED, FULFILLED):
        events.order_shipped(dbsession, order)


@hookimpl
def mercato_shipment_created(order, shipment):
    events.shipment_details(object_session(order), order, shipment)


@hookimpl
def mercato_order_refunded(order, refund):
    events.order_refunded(object_session(order), order, refund)


@hookimpl
def mercato_stock_low(dbsession, sku, level, threshold):
    events.record(dbsession, "stock.low", {"sku": sku, "stock": level, "threshold": threshold})


@hookimpl
def mercato_product_changed(dbsession, product, change):
    events.record(dbsession, "product.changed", {"change": change, "product": product})


# ---------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------


@hookimpl
def mercato_notify(event, payload, registry):
    if event == events.DELIVER:
        delivery.deliver_due(registry, delivery.now_utc(), event_id=payload["event"])


@hookimpl
def mercato_worker_pass(registry, now):
    return delivery.deliver_due(registry, now) + delivery.prune(registry, now)
