"""A code in the shopper's session becomes a discount line, computed on the server by
``mercato_price_adjustments``: percentage or fixed, above a minimum order, within its
dates, while uses remain."""

from datetime import UTC, datetime, timedelta

import pytest
from promotions_testdata import PLUGINS, add_code

from mercato.testing import csrf_token

NOW = datetime.now(UTC)


@pytest.fixture
def mercato_plugins():
    return PLUGINS


def apply_code(app, code):
    form = {"code": code, "next": "/standin/cart", "csrf_token": csrf_token(app)}
    return app.post("/promotions/code", form, status=303)


def cart(app, **basket):
    return app.get("/standin/cart.json", params=basket).json


def test_mercato_price_adjustments_takes_a_percentage_off_the_goods(app, dbsession):
    add_code(dbsession, "SUMMER10", percent=10)
    apply_code(app, " summer10 ")

    priced = cart(app, MUG=2)

    assert priced["adjustments"] == [
        {"label": "Discount SUMMER10", "amount": -250, "code": "SUMMER10", "source": "promotions"}
    ]
    assert (priced["subtotal"], priced["total"]) == (2500, 2250)


def test_percentage_is_rounded_half_even_to_a_cent(app, dbsession):
    add_code(dbsession, "HALF", percent="12.5")
    apply_code(app, "HALF")
    # 12.5 % of 3 × 1.50 = 0.5625 → 0.56
    assert cart(app, PIN=3)["adjustments"][0]["amount"] == -56


def test_fixed_amount_is_taken_off_and_never_exceeds_the_goods(app, dbsession):
    add_code(dbsession, "FIVE", amount=500)
    apply_code(app, "FIVE")
    assert cart(app, POSTER=1)["total"] == 2500
    assert cart(app, PIN=1)["total"] == 0


def test_minimum_order_must_be_reached_by_the_goods(app, dbsession):
    add_code(dbsession, "BIG", percent=20, minimum_order=5000)
    apply_code(app, "BIG")

    below = cart(app, MUG=2)
    above = cart(app, POSTER=2)

    assert below["adjustments"] == [] and below["total"] == 2500
    assert above["adjustments"][0]["amount"] == -1200 and above["total"] == 4800


def test_expired_code_is_refused_with_the_reason(app, dbsession):
    add_code(dbsession, "OLD", percent=10, expires_at=NOW - timedelta(minutes=1))
    apply_code(app, "OLD")
    page = app.get("/standin/cart", params={"MUG": 1})
    assert "OLD has expired." in page.text
    assert cart(app, MUG=1)["adjustments"] == []


def test_code_that_expires_after_being_applied_stops_discounting(app, dbsession):
    promo = add_code(dbsession, "SOON", percent=10, expires_at=NOW + timedelta(hours=1))
    apply_code(app, "SOON")
    assert cart(app, MUG=1)["total"] == 1125

    promo.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    dbsession.commit()

    assert cart(app, MUG=1)["total"] == 1250
    assert "Code <strong>SOON</strong> has expired" in app.get("/standin/cart?MUG=1").text


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"starts_at": NOW + timedelta(days=1)}, "is not valid yet"),
        ({"active": False}, "is not a valid discount code"),
        ({"max_uses": 3, "times_used": 3}, "has been fully used"),
    ],
)
def test_unusable_code_is_refused_and_gives_no_discount(app, dbsession, fields, reason):
    add_code(dbsession, "NOPE", percent=50, **fields)
    apply_code(app, "NOPE")
    assert f"NOPE {reason}." in app.get("/standin/cart?MUG=1").text
    assert cart(app, MUG=1)["adjustments"] == []


def test_unknown_code_is_refused(app):
    apply_code(app, "GUESS")
    assert "GUESS is not a valid discount code." in app.get("/standin/cart?MUG=1").text


def test_json_clients_apply_read_and_remove_a_code(app, dbsession):
    add_code(dbsession, "APP5", amount=500)
    headers = {"X-CSRF-Token": csrf_token(app)}

    applied = app.put_json("/api/promotions/code", {"code": "app5"}, headers=headers)
    assert applied.json == {"code": "APP5", "description": ""}
    assert app.get("/api/promotions/code").json == {"code": "APP5"}
    assert cart(app, POSTER=1)["total"] == 2500

    app.delete("/api/promotions/code", headers=headers)
    assert cart(app, POSTER=1)["total"] == 3000


def test_json_clients_get_a_400_in_plain_words(app):
    headers = {"X-CSRF-Token": csrf_token(app)}

    unknown = app.put_json("/api/promotions/code", {"code": "NOPE"}, headers=headers, status=400)
    malformed = app.put("/api/promotions/code", "{not json", headers=headers, status=400)

    assert unknown.json["error"]["message"] == "NOPE is not a valid discount code."
    assert "Send JSON like" in malformed.json["error"]["message"]
