"""How many times a shopper's request waits for Redis: exact numbers. The cart is read
with the session (its cookie names it: a guest's cart, or a customer's once they
logged in), so an add costs the session's round trip and the change's at the commit,
and a product page the session's and the page cache's."""

import pytest
import webtest
from sqlalchemy.orm import Session

from mercato.testing import RedisRoundTrips, csrf_token, login
from mercato_catalog.models import Product, Variant

PLUGINS = ["catalog", "cart"]


@pytest.fixture
def products(db_engine):
    with Session(db_engine) as session, session.begin():
        for sku, slug in (("LAMP", "desk-lamp"), ("BULB", "bulb")):
            product = Product(slug=slug, name=slug.title(), active=True)
            product.variants = [Variant(sku=sku, price_amount=900, price_currency="EUR", stock=50)]
            session.add(product)


@pytest.fixture
def guest(make_test_app, products):
    app = make_test_app(plugins=PLUGINS)
    app.token = csrf_token(app)
    app.post_json("/api/cart/lines", {"sku": "LAMP"}, headers={"X-CSRF-Token": app.token})
    assert "mercato_cart" in app.cookies  # what a browser keeps and sends
    return app


@pytest.fixture
def customer(make_test_app, products, customer_user):
    """A customer who logged in with a lamp in their guest cart."""
    app = make_test_app(plugins=[*PLUGINS, "accounts"])
    app.post_json("/api/cart/lines", {"sku": "LAMP"}, headers={"X-CSRF-Token": csrf_token(app)})
    login(app, customer_user.email)
    app.token = csrf_token(app)  # a new one with the new session
    assert app.cookies["mercato_cart"] == f"u{customer_user.id}"
    return app


def add_bulb(browser, token: str) -> dict:
    return browser.post_json(
        "/api/cart/lines", {"sku": "BULB"}, headers={"X-CSRF-Token": token}
    ).json


def test_a_guests_add_to_the_cart_waits_for_redis_twice(guest, monkeypatch):
    trips = RedisRoundTrips(monkeypatch, guest.app.registry.redis)
    assert add_bulb(guest, guest.token)["count"] == 2
    assert trips.count == 2


def test_a_guests_product_page_waits_for_redis_twice(guest, monkeypatch):
    guest.get("/p/bulb")  # cached for the next shoppers
    trips = RedisRoundTrips(monkeypatch, guest.app.registry.redis)
    page = guest.get("/p/bulb")
    assert "Bulb" in page.text
    assert trips.count == 2


def test_without_the_cart_cookie_the_cart_is_read_after_the_session(guest, monkeypatch):
    """A shopper whose browser lost the cart's cookie (the session still names the
    cart): one round trip more, nothing else changes."""
    forgetful = webtest.TestApp(guest.app, extra_environ=guest.extra_environ)
    forgetful.set_cookie("mercato_session", guest.cookies["mercato_session"])
    trips = RedisRoundTrips(monkeypatch, guest.app.registry.redis)
    assert add_bulb(forgetful, guest.token)["count"] == 2
    assert trips.count == 3


def test_a_customers_add_and_product_page_wait_for_redis_twice_too(customer, monkeypatch):
    """Their cart is named by the cookie once they logged in (it was read after the
    session, a round trip more, before)."""
    customer.get("/p/bulb")  # cached for the next shoppers
    trips = RedisRoundTrips(monkeypatch, customer.app.registry.redis)
    assert add_bulb(customer, customer.token)["count"] == 2
    add = trips.count
    assert "Bulb" in customer.get("/p/bulb").text
    assert (add, trips.count - add) == (2, 2)
