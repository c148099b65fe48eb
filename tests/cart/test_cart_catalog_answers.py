"""An add to the cart asks the catalog nothing while the process keeps its answers for
the SKU (``mercato.cart.catalog_cache_seconds``); stock taken or put back by any
process is forgotten (at once by that one, by the others through the stock news on
Redis), so is a product changed by any process (the catalog epoch in Redis), and the
cart page always asks afresh. With the real catalog, PostgreSQL and Redis."""

import time

import pytest
import redis
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


def refused_within_moments(shopper, sku: str, quantity: int, seconds: float = 5.0) -> str:
    """Set the line to ``quantity`` until the cart refuses it (409), which it must
    within ``seconds``: the message. Setting a quantity again changes nothing else."""
    deadline = time.monotonic() + seconds
    while True:
        answer = shopper.set(sku, quantity, status=(200, 409))
        if answer.status_int == 409:
            return answer.json["error"]["message"]
        if time.monotonic() > deadline:
            pytest.fail(f"{quantity} × {sku} still accepted after {seconds:.0f} s")
        time.sleep(0.01)


def test_stock_another_process_takes_is_forgotten_by_this_one_within_moments(make_test_app, lamp):
    """Two apps on the same PostgreSQL and Redis stand for two processes. An order of
    the other one takes four lamps; this one, which keeps what the catalog told it for
    a minute, hears of it on Redis and asks again; the bulb, which no order took,
    stays answered from what it kept."""
    here = make_test_app(plugins=PLUGINS, **KEPT)
    there = make_test_app(plugins=PLUGINS, **KEPT)
    with Session(here.app.registry.db_engine) as session, session.begin():
        bulb = Product(slug="bulb", name="Bulb", active=True)
        bulb.variants = [Variant(sku="BULB", price_amount=500, price_currency="EUR", stock=9)]
        session.add(bulb)
    shopper = Shopper(here)
    other = Shopper(webtest.TestApp(here.app, extra_environ=here.extra_environ))
    shopper.add(lamp)
    other.add("BULB")

    registry = there.app.registry
    with registry.dbsession_factory() as session, session.begin():
        registry.hooks.mercato_reserve_stock(dbsession=session, lines=[Line(sku=lamp, quantity=4)])
    message = refused_within_moments(shopper, lamp, 2)
    assert message == "Only 1 of Desk lamp is available."

    seen = statements(here)
    assert other.add("BULB").json["count"] == 2
    assert seen == [], "the bulb's answers were kept: no order took a bulb"


def kill_stock_listeners(client) -> None:
    """Drop every subscribed connection, as a Redis restart or a network cut would."""
    if isinstance(client, redis.RedisCluster):
        client.execute_command(
            "CLIENT KILL", "TYPE", "pubsub", target_nodes=redis.RedisCluster.ALL_NODES
        )
    else:
        client.execute_command("CLIENT KILL", "TYPE", "pubsub")


def test_a_process_that_lost_the_stock_news_forgets_the_stock_it_kept(
    make_test_app, lamp, db_engine, redis_client
):
    """While a process was not subscribed it may have missed news: once it listens
    again it forgets all the stock it kept, so a change it never heard of (here made
    behind every process's back) reaches its next change."""
    app = make_test_app(plugins=PLUGINS, **KEPT)
    shopper = Shopper(app)
    shopper.add(lamp)
    with db_engine.begin() as conn:
        conn.execute(update(Variant).where(Variant.sku == lamp).values(stock=0))
    assert shopper.add(lamp).json["count"] == 2  # no news: answered from what was kept

    kill_stock_listeners(redis_client)
    assert refused_within_moments(shopper, lamp, 2) == "Sorry, Desk lamp is sold out."
