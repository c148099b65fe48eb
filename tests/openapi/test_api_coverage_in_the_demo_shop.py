"""The JSON endpoints added for issue 19's coverage list, in the shop as ``mercato
demo`` composes it: a customer registers and saves an address; staff find the order
among the authorized ones, capture it, and put received units in stock."""

import pytest

from mercato.testing import csrf_token
from tests.shop.conftest import Shopper, stock_of

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}


@pytest.fixture
def demo_shop(make_demo_shop):
    """The demo's shop, capturing on fulfilment (an order is authorized until then)."""
    return make_demo_shop(**{"mercato.capture": "fulfilment"})


def test_a_customer_registers_and_saves_an_address_through_the_api(demo_shopper):
    app = demo_shopper.app
    body = {"name": "Ada", "email": "ada@example.com", "password": "x" * 12}
    body["password_confirm"] = body["password"]
    headers = {"X-CSRF-Token": csrf_token(app)}
    created = app.post_json("/api/account/register", body, headers=headers, status=201).json

    headers = {"X-CSRF-Token": created["csrf_token"]}
    app.post_json("/api/account/addresses", ADDRESS, headers=headers, status=201)
    account = app.get("/api/account").json
    assert account["user"]["email"] == "ada@example.com"
    assert [a["city"] for a in account["addresses"]] == ["Paris"]


def test_staff_list_capture_and_restock_through_the_api(demo_shop, demo_staff: Shopper, dbsession):
    shopper = demo_shop.browser()
    shopper.buy({"TEE": 2})
    staff = demo_staff.app
    headers = {"X-CSRF-Token": csrf_token(staff)}

    listed = staff.get("/api/staff/orders?status=authorized").json
    assert listed["total"] == 1
    number = listed["orders"][0]["number"]
    assert staff.get("/api/staff/orders?status=paid").json["orders"] == []

    paid = staff.post_json(f"/api/staff/orders/{number}/capture", {}, headers=headers).json
    assert paid["order"]["status"] == "paid"
    assert paid["order"]["captured"] == paid["order"]["total"]

    restock = {"changes": [{"sku": "TEE", "adjust": 5}]}
    answer = staff.post_json("/api/staff/stock", restock, headers=headers).json
    assert answer == {"stock": [{"sku": "TEE", "stock": 13}]}
    assert stock_of(dbsession, "TEE") == 13
