"""The composed shop (tests/shop) with the stand-in plugin that listens to shipments,
and what the fulfilment tests do as staff and look at afterwards."""

import http.client
import time
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select

from mercato.orders import models as m
from mercato_fulfilment.models import Shipment
from tests.shop.conftest import (  # noqa: F401
    CARD_3DS,
    all_orders,
    demo_plugins,
    demo_shopper,
    demo_staff,
    make_demo_shop,
    shop_catalog,
    stock_of,
)

from . import listener

LISTENER = "tests.fulfilment.listener"
STOCK = 10  # of TEE and of MUG before any sale (tests.shop.conftest.PRODUCTS)
# How long an email that should not come is waited for (sent right after the commit).
QUIET = 0.5


@pytest.fixture
def demo_shop(make_demo_shop):  # noqa: F811 (the fixture imported above)
    """The shop ``mercato demo`` runs (fulfilment is one of its plugins), and the listener."""
    listener.reset()
    yield make_demo_shop(**{"mercato.plugins": " ".join([*demo_plugins(), LISTENER])})
    listener.reset()


def shipped(order: m.Order) -> dict[str, int]:
    return {line.sku: line.quantity_shipped for line in order.lines}


def shipments(dbsession, order: m.Order) -> list[Shipment]:
    dbsession.expire_all()
    return dbsession.scalars(
        select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id)
    ).all()


def emails(shop, count: int) -> list:
    """Exactly ``count`` emails: waits for them, then for any extra one."""
    shop.smtp.wait_for(count)
    time.sleep(QUIET)
    messages = shop.smtp.messages
    assert len(messages) == count, [message["Subject"] for message in messages]
    return messages


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def ship_form(staff, order: m.Order) -> dict[str, str]:
    """The fields of the order page's "Ship" form as the browser would send them."""
    page = staff.app.get(f"/admin/orders/{order.number}")
    form = page.html.select_one("#ship-form")
    assert form is not None, "the admin's order page has the shipments panel's form"
    fields = {field["name"]: field.get("value", "") for field in form.select("input[name]")}
    fields["carrier"] = form.select_one("select[name=carrier] option")["value"]
    return fields


def fill(order: m.Order, fields: dict, units: dict[str, int] | None = None, **typed) -> dict:
    """``fields`` with ``units`` ({sku: quantity}, every other line 0) and ``typed``."""
    fields = dict(fields)
    if units is not None:
        for line in order.lines:
            fields[f"quantity-{line.id}"] = str(units.get(line.sku, 0))
    fields.update(typed)
    return fields


def ship(staff, order: m.Order, units=None, status=303, **typed):
    """Ship through the order page's form: ``units`` (default: what the form proposes,
    everything left), ``carrier=``, ``tracking_number=``."""
    fields = fill(order, ship_form(staff, order), units, **typed)
    return staff.app.post(f"/admin/orders/{order.number}/shipments", fields, status=status)


def api_ship(staff, order: m.Order, body, status=201, headers=None):
    return staff.app.post_json(
        f"/api/staff/orders/{order.number}/shipments",
        body,
        headers={"X-CSRF-Token": staff.token, **(headers or {})},
        status=status,
    )


def post_over_http(shop, browser, path: str, fields: dict) -> int:
    """POST a form to the served shop over a real HTTP connection, with ``browser``'s
    cookies; the status code (redirects are not followed)."""
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.app.cookiejar)
    address = urlsplit(shop.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            urlencode(fields),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
