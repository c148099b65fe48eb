"""Through the accounts plugin's login (``POST /api/session/login``), not a stand-in: the
guest cart merges into the customer's saved cart, which every device then shows."""

import pytest
import webtest

from mercato import create_user
from mercato.testing import csrf_token
from tests.cart.conftest import Shopper

PASSWORD = "correct horse battery staple"


@pytest.fixture
def mercato_plugins():
    return ["tests.cart.pricing_plugin", "cart"]


@pytest.fixture
def customer(dbsession):
    user = create_user(dbsession, "ada@example.com", PASSWORD, rounds=4)
    dbsession.commit()
    return user


def log_in(shopper: Shopper) -> None:
    response = shopper.app.post_json(
        "/api/session/login",
        {"email": "ada@example.com", "password": PASSWORD},
        headers=shopper.headers,
    )
    shopper.token = response.json["csrf_token"]


def test_real_login_merges_the_guest_cart(app, catalog, customer):
    phone = Shopper(webtest.TestApp(app.app, extra_environ=app.extra_environ))
    log_in(phone)
    phone.add("MUG", 1)

    laptop = Shopper(app)
    laptop.add("MUG", 2)
    laptop.add("PEN", 4)
    log_in(laptop)

    assert laptop.quantities() == {"MUG": 3, "PEN": 4}
    assert phone.quantities() == {"MUG": 3, "PEN": 4}


def test_logging_out_leaves_the_saved_cart_behind(app, catalog, customer):
    shopper = Shopper(app)
    log_in(shopper)
    shopper.add("TEE", 1)
    shopper.app.post_json("/api/session/logout", {}, headers=shopper.headers)
    shopper.token = csrf_token(shopper.app)

    assert shopper.cart()["lines"] == [], "a guest again, with an empty cart"
    log_in(shopper)
    assert shopper.quantities() == {"TEE": 1}
