"""An add to the cart asks the catalog nothing while the process keeps its answers for
the SKU (``mercato.cart.catalog_cache_seconds``); a commit of the process forgets them,
so does a product changed by any process (the catalog epoch in Redis), and the cart page
always asks afresh. With the real catalog, PostgreSQL and Redis."""

import pytest
import webtest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from mercato import Line
from mercato.testing import csrf_token, login
from mercato_catalog.models import Product, Variant
from tests.cart.conftest import PLUGINS as CART_PLUGINS
from tests.cart.conftest import Shopper

PLUGINS = ["catalog", "cart"]
KEPT = {"mercato.cart.catalog_cache_seconds": "60"}


@pytest.fixture
def lamp(db_engine, clean_stores):
    with Session(db_engine) as session, session.begin():
        product = Product(slug="desk-lamp", name="Desk lamp", active=True)
        product.variants = [Variant(sku="LAMP", price_amount=3900, price_currency="EUR", stock=5)]
        session.add(product)
    return "LAMP"


def statements(app) -> list[str]:
    seen: list[str] = []
    event.listen(
        app.app.registry.db_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: seen.append(statement),
    )
    return seen


def test_an_add_asks_the_catalog_nothing_while_its_answers_are_kept(make_test_app, lamp):
    app = make_test_app(plugins=PLUGINS, **KEPT)
    first, second = Shopper(app), Shopper(webtest.TestApp(app.app, extra_environ=app.extra_environ))
    seen = statements(app)
    first.add(lamp)
    asked = len(seen)
    cart = second.add(lamp).json
    assert (asked, len(seen) - asked) == (1, 0), seen
    assert cart["lines"][0]["unit_price"] == {"amount": 3900, "currency": "EUR"}
    assert cart["lines"][0]["name"] == "Desk lamp" and cart["count"] == 1


def test_a_price_that_cannot_depend_on_quantity_is_kept_once(make_test_app, catalog):
    """The stand-in catalog's ``mercato_unit_price`` does not take ``quantity``: each
    add of one more MUG is priced from what the first add was told. (The real
    catalog's takes it: there a price is kept per quantity.)"""
    shopper = Shopper(make_test_app(plugins=CART_PLUGINS, **KEPT))
    for _ in range(3):
        shopper.add("MUG")
    assert catalog.PRICED == ["MUG"]
    assert shopper.quantities() == {"MUG": 3}


def test_stock_this_process_takes_is_asked_again_for_those_skus_alone(make_test_app, lamp):
    app = make_test_app(plugins=PLUGINS, **KEPT)
    with Session(app.app.registry.db_engine) as session, session.begin():
        bulb = Product(slug="bulb", name="Bulb", active=True)
        bulb.variants = [Variant(sku="BULB", price_amount=500, price_currency="EUR", stock=9)]
        session.add(bulb)
    shopper, other = (
        Shopper(app),
        Shopper(webtest.TestApp(app.app, extra_environ=app.extra_environ)),
    )
    shopper.add(lamp)
    other.add("BULB")
    seen = statements(app)
    # A checkout of this process takes four lamps (the kernel calls the hook so, for
    # every plugin, in the order's transaction).
    registry = app.app.registry
    with registry.dbsession_factory() as session, session.begin():
        registry.hooks.mercato_reserve_stock(dbsession=session, lines=[Line(sku=lamp, quantity=4)])
    reserved = len(seen)
    assert other.add("BULB").json["count"] == 2  # still answered from what was kept
    assert len(seen) == reserved, seen[reserved:]
    refused = shopper.add(lamp, status=409).json  # asked again: one lamp left
    assert (
        refused["error"]["message"]
        == "Only 1 of Desk lamp is available and you already have 1 in your cart."
    )


def test_a_reservation_rolled_back_is_asked_again_too_and_only_once(make_test_app, lamp):
    """A checkout refused for want of stock rolls back: its SKUs are asked again (the
    shopper is about to be told how many are left), and nothing is left behind for the
    session's next commit to forget."""
    app = make_test_app(plugins=PLUGINS, **KEPT)
    shopper = Shopper(app)
    shopper.add(lamp)
    seen = statements(app)
    registry = app.app.registry
    with registry.dbsession_factory() as session:
        with session.begin():
            registry.hooks.mercato_reserve_stock(
                dbsession=session, lines=[Line(sku=lamp, quantity=4)]
            )
            session.rollback()
        assert shopper.add(lamp).json["count"] == 2
        asked = len(seen)
        assert "catalog_variants.sku IN" in seen[-1]
        with session.begin():
            session.execute(select(1))  # the same session commits something else
    assert shopper.add(lamp).json["count"] == 3
    assert seen[asked:] == ["SELECT 1"]


def test_the_cart_page_asks_the_catalog_afresh(make_test_app, lamp, db_engine):
    app = make_test_app(plugins=PLUGINS, **KEPT)
    shopper = Shopper(app)
    shopper.add(lamp)
    # Sold out by another process: this one's add may still be answered from what it
    # kept (for catalog_cache_seconds at most) …
    with db_engine.begin() as conn:
        conn.execute(update(Variant).where(Variant.sku == lamp).values(stock=0))
    assert shopper.add(lamp).json["count"] == 2
    # … the cart page and checkout never are.
    line = shopper.cart()["lines"][0]
    assert (line["available"], line["problems"]) == (0, ["Sold out: remove it to continue."])


def test_a_product_changed_in_another_process_is_forgotten_at_the_next_add(
    make_test_app, lamp, staff_user
):
    """Two apps on the same PostgreSQL and Redis stand for two processes. Staff change
    the lamp's price through one (the staff API: ``mercato_product_changed``); the other
    kept its answers for a minute, yet its next add is priced anew."""
    shop = make_test_app(plugins=PLUGINS, **KEPT)
    shopper = Shopper(shop)
    assert shopper.add(lamp).json["lines"][0]["unit_price"]["amount"] == 3900

    staff = make_test_app(plugins=PLUGINS, **KEPT)
    login(staff, staff_user.email)
    staff.patch_json(
        "/api/staff/products/desk-lamp",
        {"variants": [{"sku": lamp, "price": "45.00"}]},
        headers={"X-CSRF-Token": csrf_token(staff)},
    )

    line = shopper.add(lamp).json["lines"][0]
    assert (line["quantity"], line["unit_price"]["amount"]) == (2, 4500)
