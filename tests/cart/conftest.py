"""Fixtures for the cart's tests: the cart with a stand-in catalog and accounts."""

import pytest
import webtest

from mercato.testing import csrf_token
from tests.cart import pricing_plugin

PLUGINS = ["tests.cart.pricing_plugin", "tests.cart.shop_plugin", "cart"]


@pytest.fixture
def mercato_plugins():
    return PLUGINS


@pytest.fixture
def make_test_app(make_test_app):
    """The stand-in catalog changes in memory, as a catalog in another process would: an
    add must see its change at once here, so no process keeps its answers unless a
    test says so (their keeping is tested in test_cart_catalog_answers.py)."""

    def factory(plugins=(), **overrides):
        return make_test_app(plugins, **{"mercato.cart.catalog_cache_seconds": "0", **overrides})

    return factory


@pytest.fixture
def catalog():
    """Prices and stock the stand-in catalog answers with (tests may change them)."""
    pricing_plugin.reset(
        prices={"MUG": 1250, "TEE": 2000, "PEN": 300},
        stock={"MUG": 10, "TEE": 3},  # PEN: stock not tracked
    )
    yield pricing_plugin
    pricing_plugin.reset()


class Shopper:
    """One browser (or app) talking to the real app: its own cookies and CSRF token."""

    def __init__(self, testapp: webtest.TestApp):
        self.app = testapp
        self.token = csrf_token(testapp)

    @property
    def headers(self) -> dict:
        return {"X-CSRF-Token": self.token}

    def cart(self) -> dict:
        return self.app.get("/api/cart").json

    def add(self, sku, quantity=1, status=200):
        return self.app.post_json(
            "/api/cart/lines",
            {"sku": sku, "quantity": quantity},
            headers=self.headers,
            status=status,
        )

    def set(self, sku, quantity, status=200):
        return self.app.put_json(
            f"/api/cart/lines/{sku}",
            {"quantity": quantity},
            headers=self.headers,
            status=status,
        )

    def remove(self, sku, status=200):
        return self.app.delete(f"/api/cart/lines/{sku}", headers=self.headers, status=status)

    def clear(self, status=200):
        return self.app.delete("/api/cart", headers=self.headers, status=status)

    def login(self, user_id: int):
        self.app.post(f"/test/login/{user_id}", headers=self.headers)
        # A login rotates nothing here, but a fresh token is what a real client reads.
        self.token = csrf_token(self.app)

    def quantities(self) -> dict:
        return {line["sku"]: line["quantity"] for line in self.cart()["lines"]}


@pytest.fixture
def shopper(app, catalog):
    return Shopper(app)


@pytest.fixture
def new_shopper(app, catalog):
    """Another browser on the same app (its own cookie jar)."""
    return lambda: Shopper(webtest.TestApp(app.app, extra_environ=app.extra_environ))
