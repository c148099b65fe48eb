"""A small shop for checkout tests, enabled by dotted name like any shop's own plugin.

It keeps the cart in the shopper's session and prices and stock in a table of its own
(``test_shop_items``, created by the tests), and implements the cart, pricing and
inventory hooks for real: stock is taken with a guarded UPDATE, as the catalog does.
``FAULTS`` injects the failures the tests need, at the points where they happen.
"""

import os
import signal
import time

import transaction
from pyramid.view import view_config
from sqlalchemy import (
    CheckConstraint,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from mercato import Line, Money, OutOfStock, hookimpl

CART_KEY = "test_shop.cart"

metadata = MetaData()
items = Table(
    "test_shop_items",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("price", Integer, nullable=False),
    Column("stock", Integer, nullable=False),
    CheckConstraint("stock >= 0", name="ck_test_shop_items_stock"),
)

FAULTS: dict = {}
EVENTS: dict = {}


def reset() -> None:
    FAULTS.clear()
    FAULTS.update(
        serialization_failures=0, explode_after_reserve=False, sold_elsewhere=None, slow_reserve=0
    )
    EVENTS.clear()
    EVENTS.update(checked_out=[], placed=[], status=[], reserve_attempts=0)


reset()


@view_config(route_name="test_shop_cart", request_method="POST", renderer="json")
def add_to_cart(request):
    body = request.json_body
    cart = dict(request.session.get(CART_KEY) or {})
    cart[body["sku"]] = cart.get(body["sku"], 0) + int(body.get("quantity", 1))
    request.session[CART_KEY] = cart
    return {"cart": cart}


@view_config(route_name="test_shop_cart", request_method="GET", renderer="json")
def show_cart(request):
    return {"cart": request.session.get(CART_KEY) or {}}


@hookimpl
def mercato_configure(config):
    config.add_route("test_shop_cart", "/test-shop/cart")
    config.scan(__name__)


@hookimpl
def mercato_cart_lines(request):
    cart = request.session.get(CART_KEY) or {}
    names = dict(
        request.dbsession.execute(
            select(items.c.sku, items.c.name).where(items.c.sku.in_(cart))
        ).all()
    )
    return [Line(sku=sku, quantity=qty, name=names.get(sku, "")) for sku, qty in cart.items()]


@hookimpl
def mercato_cart_checked_out(request, order):
    request.session[CART_KEY] = {}
    EVENTS["checked_out"].append(order.number)


@hookimpl
def mercato_unit_price(sku, quantity, context):
    price = context.dbsession.scalar(select(items.c.price).where(items.c.sku == sku))
    return None if price is None else Money(price, context.currency)


@hookimpl
def mercato_stock_level(dbsession, sku):
    return dbsession.scalar(select(items.c.stock).where(items.c.sku == sku))


@hookimpl
def mercato_reserve_stock(dbsession, lines):
    EVENTS["reserve_attempts"] += 1
    # A checkout still running (seconds), as a slow database or provider makes it.
    time.sleep(FAULTS["slow_reserve"])
    if FAULTS["serialization_failures"] > 0:
        FAULTS["serialization_failures"] -= 1
        # PostgreSQL itself raising SQLSTATE 40001, as a conflicting transaction gets it.
        dbsession.execute(
            text("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
        )
    if FAULTS["sold_elsewhere"]:
        # Another shopper buys the last units and commits between our stock check and
        # this reservation.
        with Session(dbsession.get_bind()) as other, other.begin():
            other.execute(
                update(items).where(items.c.sku == FAULTS["sold_elsewhere"]).values(stock=0)
            )
    for line in lines:
        taken = dbsession.execute(
            update(items)
            .where(items.c.sku == line.sku, items.c.stock >= line.quantity)
            .values(stock=items.c.stock - line.quantity)
        ).rowcount
        if taken != 1:
            left = dbsession.scalar(select(items.c.stock).where(items.c.sku == line.sku)) or 0
            raise OutOfStock(line.sku, line.quantity, left)


@hookimpl
def mercato_release_stock(dbsession, lines):
    for line in lines:
        dbsession.execute(
            update(items).where(items.c.sku == line.sku).values(stock=items.c.stock + line.quantity)
        )


@hookimpl
def mercato_order_placed(order):
    EVENTS["placed"].append(order.number)
    if FAULTS["explode_after_reserve"]:
        raise RuntimeError("injected failure after authorization, before commit")
    kill_at = os.environ.get("TEST_SHOP_KILL")
    if kill_at:
        transaction.get().join(Killer(kill_at))


@hookimpl
def mercato_order_status_changed(order, old, new):
    EVENTS["status"].append((order.number, old, new))


class Killer:
    """SIGKILLs its own process at a point of the two-phase commit (subprocess tests).

    It sorts first: its ``tpc_vote`` runs before PostgreSQL commits ("before_commit"),
    its ``tpc_finish`` after the commit and before any capture ("after_commit").
    """

    transaction_manager = None

    def __init__(self, point: str):
        self.point = point

    def sortKey(self):
        return "!killer"

    def tpc_vote(self, txn):
        if self.point == "before_commit":
            os.kill(os.getpid(), signal.SIGKILL)

    def tpc_finish(self, txn):
        if self.point == "after_commit":
            os.kill(os.getpid(), signal.SIGKILL)

    def tpc_begin(self, txn):
        pass

    def commit(self, txn):
        pass

    def abort(self, txn):
        pass

    def tpc_abort(self, txn):
        pass
