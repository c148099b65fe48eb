"""The JSON API under /api/cart: add, change, remove, clear; totals from the hooks;
every refusal a 4xx with a sentence a person understands, and the cart unchanged."""

import pytest

from mercato_cart.services import _apply
from mercato_cart.store import StoredCart
from tests.cart.conftest import PLUGINS, Shopper


def lines(cart: dict) -> list[tuple[str, int]]:
    return [(line["sku"], line["quantity"]) for line in cart["lines"]]


def test_add_returns_the_cart_priced_on_the_server(shopper):
    cart = shopper.add("MUG", 2).json
    assert lines(cart) == [("MUG", 2)]
    assert cart["lines"][0]["unit_price"] == {"amount": 1250, "currency": "EUR"}
    assert cart["lines"][0]["total"] == {"amount": 2500, "currency": "EUR"}
    assert cart["total"] == {"amount": 2500, "currency": "EUR"}
    assert cart["count"] == 2
    assert shopper.cart() == cart


def test_adding_the_same_sku_again_adds_to_its_line(shopper):
    shopper.add("MUG", 2)
    shopper.add("PEN", 1)
    assert lines(shopper.add("MUG", 3).json) == [("MUG", 5), ("PEN", 1)]


def test_a_price_sent_by_the_client_is_ignored(shopper):
    shopper.app.post_json(
        "/api/cart/lines",
        {"sku": "MUG", "quantity": 1, "unit_price": 1, "total": 1},
        headers=shopper.headers,
    )
    assert shopper.cart()["total"] == {"amount": 1250, "currency": "EUR"}


def test_change_quantity_remove_and_clear(shopper):
    shopper.add("MUG", 2)
    shopper.add("TEE", 1)
    assert lines(shopper.set("MUG", 4).json) == [("MUG", 4), ("TEE", 1)]
    assert lines(shopper.set("MUG", 0).json) == [("TEE", 1)], "0 removes the line"
    shopper.add("PEN", 3)
    assert lines(shopper.remove("TEE").json) == [("PEN", 3)]
    cart = shopper.clear().json
    assert cart["lines"] == [] and cart["total"] == {"amount": 0, "currency": "EUR"}
    assert shopper.cart()["count"] == 0


def test_each_adjustment_is_its_own_line_and_counts_in_the_total(shopper, catalog):
    catalog.ADJUSTMENTS.extend([("Welcome discount", -500), ("Shipping", 490)])
    cart = shopper.add("TEE", 2).json
    assert cart["subtotal"] == {"amount": 4000, "currency": "EUR"}
    assert [(a["label"], a["amount"]["amount"]) for a in cart["adjustments"]] == [
        ("Welcome discount", -500),
        ("Shipping", 490),
    ]
    assert cart["total"] == {"amount": 3990, "currency": "EUR"}


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("abc", "Quantity must be a whole number, like 1 or 2."),
        (2.5, "Quantity must be a whole number, like 1 or 2."),
        (True, "Quantity must be a whole number, like 1 or 2."),
        (0, "Quantity must be at least 1."),
        (-3, "Quantity must be at least 1."),
        ("-3", "Quantity must be a whole number, like 1 or 2."),
        (100, "You can have at most 99 of one item in your cart."),
    ],
)
def test_bad_quantities_are_refused_in_plain_words(shopper, quantity, message):
    shopper.add("PEN", 1)
    response = shopper.add("PEN", quantity, status=400)
    assert response.json == {"error": {"status": 400, "message": message}}
    assert lines(shopper.cart()) == [("PEN", 1)], "the cart is unchanged"


def test_unknown_sku_is_refused_in_plain_words(shopper):
    shopper.add("PEN", 1)
    response = shopper.add("NO-SUCH-THING", 1, status=400)
    assert response.json["error"]["message"] == (
        "We could not find a product with the SKU “NO-SUCH-THING”, or it is no longer sold."
    )
    assert lines(shopper.cart()) == [("PEN", 1)]


def test_missing_sku_and_malformed_json_are_refused(shopper):
    assert (
        shopper.app.post_json(
            "/api/cart/lines", {"quantity": 1}, headers=shopper.headers, status=400
        ).json["error"]["message"]
        == "Choose a product (its SKU is missing)."
    )
    response = shopper.app.post(
        "/api/cart/lines",
        "{not json",
        headers={**shopper.headers, "Content-Type": "application/json"},
        status=400,
    )
    assert response.json["error"]["message"].startswith("Send a JSON object")
    response = shopper.app.post_json(
        "/api/cart/lines", ["MUG", 1], headers=shopper.headers, status=400
    )
    assert response.json["error"]["message"].startswith("Send a JSON object")


def test_quantity_defaults_to_one(shopper):
    shopper.app.post_json("/api/cart/lines", {"sku": "MUG"}, headers=shopper.headers)
    assert shopper.quantities() == {"MUG": 1}


def test_never_beyond_stock(shopper):
    response = shopper.add("TEE", 4, status=409)
    assert response.json["error"]["message"] == "Only 3 of “TEE” are available."
    shopper.add("TEE", 2)
    response = shopper.add("TEE", 2, status=409)
    assert response.json["error"]["message"] == (
        "Only 3 of “TEE” are available and you already have 2 in your cart."
    )
    response = shopper.set("TEE", 5, status=409)
    assert response.json["error"]["message"] == "Only 3 of “TEE” are available."
    assert shopper.quantities() == {"TEE": 2}


def test_sold_out_is_said_so(shopper, catalog):
    catalog.STOCK["TEE"] = 0
    response = shopper.add("TEE", 1, status=409)
    assert response.json["error"]["message"] == "Sorry, “TEE” is sold out."


def test_changing_a_line_not_in_the_cart_is_a_404(shopper):
    assert shopper.set("MUG", 2, status=404).json["error"]["message"] == (
        "“MUG” is not in your cart."
    )
    assert shopper.remove("MUG", status=404).json["error"]["message"] == (
        "“MUG” is not in your cart."
    )


def test_skus_with_slashes_work_in_the_path(shopper, catalog):
    catalog.PRICES["BOX/LARGE"] = 900
    shopper.add("BOX/LARGE", 1)
    assert lines(shopper.set("BOX/LARGE", 2).json) == [("BOX/LARGE", 2)]
    assert shopper.remove("BOX/LARGE").json["lines"] == []


def test_withdrawn_product_is_shown_plainly_and_the_cart_stays_usable(shopper, catalog):
    shopper.add("MUG", 1)
    shopper.add("PEN", 2)
    del catalog.PRICES["MUG"]  # withdrawn: no plugin prices it any more

    cart = shopper.cart()
    mug = cart["lines"][0]
    assert mug["sku"] == "MUG" and mug["unit_price"] is None
    assert mug["problems"] == ["This item is no longer available. Remove it to continue."]
    assert cart["total"] == {"amount": 600, "currency": "EUR"}, "left out of the total"
    assert cart["ready"] is False

    assert (
        shopper.set("MUG", 3, status=409)
        .json["error"]["message"]
        .startswith("“MUG” is no longer available")
    )
    shopper.add("TEE", 1)
    cart = shopper.remove("MUG").json
    assert lines(cart) == [("PEN", 2), ("TEE", 1)] and cart["ready"] is True


def test_a_price_change_since_adding_is_shown_until_the_shopper_acts(shopper, catalog):
    shopper.add("MUG", 1)
    catalog.PRICES["MUG"] = 1400
    mug = shopper.cart()["lines"][0]
    assert mug["price_was"] == {"amount": 1250, "currency": "EUR"}
    assert mug["unit_price"] == {"amount": 1400, "currency": "EUR"}
    assert shopper.cart()["ready"] is True, "a new price is news, not a blocker"

    mug = shopper.set("MUG", 2).json["lines"][0]
    assert mug["price_was"] is None, "changing the line accepts the current price"


def test_stock_falling_below_the_cart_is_shown(shopper, catalog):
    shopper.add("MUG", 5)
    catalog.STOCK["MUG"] = 2
    cart = shopper.cart()
    assert cart["lines"][0]["problems"] == ["Only 2 available: lower the quantity to continue."]
    assert cart["lines"][0]["available"] == 2
    assert cart["ready"] is False
    assert shopper.set("MUG", 2).json["ready"] is True


def test_a_full_cart_refuses_another_item(make_test_app, catalog):
    shopper = Shopper(make_test_app(plugins=PLUGINS, **{"mercato.cart.max_lines": "2"}))
    shopper.add("MUG")
    shopper.add("TEE")
    assert shopper.add("PEN", status=409).json["error"]["message"] == (
        "Your cart is full: it can hold 2 different items."
    )
    shopper.add("MUG")  # more of an item already there is fine
    assert shopper.quantities() == {"MUG": 2, "TEE": 1}


def test_per_line_maximum_is_a_setting(make_test_app, catalog):
    shopper = Shopper(make_test_app(plugins=PLUGINS, **{"mercato.cart.max_per_line": "5"}))
    shopper.add("PEN", 4)
    assert shopper.add("PEN", 2, status=409).json["error"]["message"] == (
        "You can have at most 5 of “PEN” in your cart (you already have 4)."
    )
    assert shopper.add("PEN", 6, status=400).json["error"]["message"] == (
        "You can have at most 5 of one item in your cart."
    )


def test_changes_need_the_csrf_token(shopper):
    response = shopper.app.post_json("/api/cart/lines", {"sku": "MUG", "quantity": 1}, status=400)
    assert "reload the page" in response.json["error"]["message"]
    assert shopper.cart()["lines"] == []


def test_cart_responses_are_not_cached(shopper):
    assert "no-store" in shopper.app.get("/api/cart").headers["Cache-Control"]


def test_a_change_answers_with_the_cart_as_the_update_script_makes_it(app):
    """The answer to a change shows the cart as ``services._apply`` says the script
    will make it, before Redis ran it: the same lines, quantities, places and version
    as the script's, for every kind of change."""
    store = app.app.registry.cart_store
    shown = StoredCart("g" + "m" * 22, 0, [])
    changes = [
        [["add", "MUG", 2, 99, "1250 EUR"]],
        # A login's merge: two new lines in one change, the second capped at stock.
        [["add", "PEN", 1, 99, ""], ["add", "TEE", 3, 2, "2000 EUR"]],
        [["add", "MUG", 1, 99, ""]],
        [["set", "MUG", 0, 99, ""], ["add", "MUG", 1, 99, "1300 EUR"]],
        [["remove", "PEN"], ["add", "INK", 1, 99, ""], ["add", "PEN", 1, 0, ""]],
        [["clear"], ["add", "PEN", 4, 99, ""]],
    ]
    for ops in changes:
        expected = _apply(shown, ops)
        shown = store.apply_now(shown.cart_id, ops)
        assert (shown.version, shown.lines) == (expected.version, expected.lines), ops
