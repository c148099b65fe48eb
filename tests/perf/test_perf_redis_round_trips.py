"""How many times a shopper's request waits for Redis: exact numbers. A guest's cart is
read with the session (its cookie names it), so an add costs the session's round trip
and the change's at the commit, and a product page the session's and the page cache's."""

import pytest
import webtest
from sqlalchemy.orm import Session

from mercato.testing import RedisRoundTrips, csrf_token
from mercato_catalog.models import Product, Variant

PLUGINS = ["catalog", "cart"]


@pytest.fixture
def guest(make_test_app, db_engine):
    with Session(db_engine) as session, session.begin():
        for sku, slug in (("LAMP", "desk-lamp"), ("BULB", "bulb")):
            product = Product(slug=slug, name=slug.title(), active=True)
            product.variants = [Variant(sku=sku, price_amount=900, price_currency="EUR", stock=50)]
            session.add(product)
    app = make_test_app(plugins=PLUGINS)
    app.token = csrf_token(app)
    app.post_json("/api/cart/lines", {"sku": "LAMP"}, headers={"X-CSRF-Token": app.token})
    assert "mercato_cart" in app.cookies  # what a browser keeps and sends
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
