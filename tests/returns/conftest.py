"""Returns in the shop as ``mercato demo`` composes it (tests/shop's fixtures): shoppers
use the storefront's order pages and this plugin's forms, staff the admin's pages and
the staff JSON API; results are read in the database, localstripe and the mailbox."""

import re
import time

import pytest
from sqlalchemy import select, text

from mercato import ship_order_lines
from mercato.orders import models as m
from mercato_returns.models import ReturnRequest
from tests.shop.conftest import (  # noqa: F401 (fixtures)
    all_orders,
    demo_plugins,
    demo_shop,
    demo_shopper,
    demo_staff,
    make_demo_shop,
    shop_catalog,
    stock_of,
)

STOCK = 10  # of TEE and of MUG, before any sale
QUIET = 0.5  # how long an email that should not come is waited for


def the_order(dbsession) -> m.Order:
    [order] = all_orders(dbsession)
    return order


def ship(shop, dbsession, order: m.Order, units: dict | None = None) -> None:
    """Ship ``units`` (all when None) through the kernel, as the fulfilment plugin does."""
    order = dbsession.get(m.Order, order.id)
    ship_order_lines(shop.app.registry, dbsession, order, units, actor="test")
    dbsession.commit()


def age_shipments(dbsession, order: m.Order, days: int) -> None:
    """Pretend the order shipped ``days`` ago."""
    dbsession.execute(
        text(
            "UPDATE order_status_changes SET created_at = now() - make_interval(days => :days) "
            "WHERE order_id = :order AND new_status IN ('fulfilled', 'partially_fulfilled')"
        ),
        {"days": days, "order": order.id},
    )
    dbsession.commit()


def returns_of(dbsession) -> list[ReturnRequest]:
    dbsession.expire_all()
    return dbsession.scalars(select(ReturnRequest).order_by(ReturnRequest.id)).all()


def guest_page(order: m.Order) -> str:
    return f"/orders/{order.access_token}"


def ask(shopper, page_url: str, quantities: dict, reason="Too small", details="", status=303):
    """Fill the "Return items" form of the order page at ``page_url`` and send it."""
    page = shopper.app.get(page_url)
    form = page.forms["return-form"]
    for sku, quantity in quantities.items():
        form[f"quantity.{sku}"] = str(quantity)
    form["reason"] = reason
    form["details"] = details
    return form.submit(status=status)


def staff_step(staff, order: m.Order, return_id: int, action: str, status=303, **fields):
    """Post a staff form of the return's page with that page's CSRF token."""
    page = staff.app.get(f"/admin/orders/{order.number}/returns/{return_id}")
    token = page.html.select_one(f"#{action}-form input[name=csrf_token]")["value"]
    return staff.app.post(
        f"/admin/orders/{order.number}/returns/{return_id}/{action}",
        {"csrf_token": token, **fields},
        status=status,
    )


def emails(smtp_server, count: int) -> list[str]:
    """The subjects of exactly ``count`` emails (waits for them, then for any extra)."""
    smtp_server.wait_for(count)
    time.sleep(QUIET)
    return [message["Subject"] for message in smtp_server.messages]


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def return_subjects(subjects: list[str]) -> list[str]:
    return [s for s in subjects if re.search(r"[Rr]eturn #\d+", s)]


@pytest.fixture
def guest_with_shipped_order(demo_shop, demo_shopper, dbsession):  # noqa: F811
    """A guest who bought 2 tees and a mug, all shipped: ``(shopper, order)``."""
    demo_shopper.buy({"TEE": 2, "MUG": 1})
    order = the_order(dbsession)
    ship(demo_shop, dbsession, order)
    return demo_shopper, the_order(dbsession)
