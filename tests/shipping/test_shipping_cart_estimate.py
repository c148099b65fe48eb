"""The estimate on the real cart page (catalog, cart and shipping composed): a GET form
by country, the options and prices for the cart, a plain sentence where the shop does
not ship, and no SQL until a country is chosen."""

import pytest

from mercato.testing import csrf_token

pytestmark = pytest.mark.usefixtures("demo_zones", "products")


@pytest.fixture
def shopper(app):
    """A browser with TEE 24.00 × 1 and MUG 12.50 × 2 in its cart (49.00 of goods)."""
    token = csrf_token(app)
    for sku, quantity in (("TEE", 1), ("MUG", 2)):
        app.post_json(
            "/api/cart/lines", {"sku": sku, "quantity": quantity}, headers={"X-CSRF-Token": token}
        )
    return app


def estimate(page) -> list[tuple[str, str]]:
    rows = page.html.select(".shipping-estimate tr.shipping-option")
    return [(" ".join(row.th.text.split()), row.td.text.strip()) for row in rows]


def test_the_cart_page_offers_a_country_form_and_no_prices_yet(shopper):
    page = shopper.get("/cart")
    form = page.forms[next(k for k, f in page.forms.items() if "ship_to" in f.fields)]
    assert form.method.lower() == "get" and form.action == "/cart"
    choices = dict((value, text) for value, _, text in form["ship_to"].options)
    assert choices["DE"] == "Germany" and choices["JP"] == "Japan" and choices[""]
    assert estimate(page) == [] and "We do not ship" not in page.text


def test_options_and_prices_per_country(shopper):
    assert estimate(shopper.get("/cart?ship_to=DE")) == [
        ("Standard (1–3 working days)", "€4.90"),
        ("Express (next working day)", "€9.90"),
    ]
    assert estimate(shopper.get("/cart?ship_to=fr")) == [("Standard (3–6 working days)", "€9.90")]
    page = shopper.get("/cart?ship_to=US")
    assert page.html.select_one(".shipping-options caption").text == "Shipping to United States"
    assert estimate(page) == [("International (5–10 working days)", "€19.90")]


def test_a_country_without_a_zone_is_told_so(shopper):
    page = shopper.get("/cart?ship_to=JP")
    assert page.status_int == 200 and estimate(page) == []
    assert page.html.select_one(".shipping-none").text == "We do not ship to Japan yet."
    assert page.html.select_one("#shipping-ship-to option[selected]")["value"] == "JP"


def test_free_shipping_once_the_goods_reach_the_threshold(shopper):
    token = csrf_token(shopper)
    shopper.post_json("/api/cart/lines", {"sku": "MUG"}, headers={"X-CSRF-Token": token})
    assert estimate(shopper.get("/cart?ship_to=DE")) == [
        ("Standard (1–3 working days)", "Free"),
        ("Express (next working day)", "€9.90"),
    ], "61.50 of goods, over 50.00"


def test_the_chosen_country_is_kept_until_changed_or_cleared(shopper):
    shopper.get("/cart?ship_to=FR")
    token = csrf_token(shopper)
    page = shopper.post(
        "/cart/update", {"sku": "MUG", "quantity": "1", "csrf_token": token}, status=303
    ).follow()
    assert estimate(page) == [("Standard (3–6 working days)", "€9.90")]
    assert estimate(shopper.get("/cart?ship_to=")) == []
    assert estimate(shopper.get("/cart")) == [], "cleared"


@pytest.mark.parametrize("asked", ["XX", "<script>alert(1)</script>", "D" * 5000])
def test_a_country_not_on_the_list_gets_a_sentence(shopper, asked):
    page = shopper.get("/cart", {"ship_to": asked})
    assert page.status_int == 200
    assert page.html.select_one("#shipping-estimate-problem").text == (
        "Please choose a country from the list."
    )
    assert "<script>alert" not in page.text and estimate(page) == []


def test_an_empty_cart_shows_no_estimate(app):
    page = app.get("/cart?ship_to=DE")
    assert "Your cart is empty." in page.text and not page.html.select(".shipping-estimate")


def test_the_estimate_can_be_switched_off(make_test_app, products, demo_zones):
    app = make_test_app(plugins=["catalog", "cart", "shipping"], **{
        "mercato.shipping.cart_estimate": "false"
    })  # fmt: skip
    app.post_json("/api/cart/lines", {"sku": "TEE"}, headers={"X-CSRF-Token": csrf_token(app)})
    page = app.get("/cart?ship_to=DE")
    assert "Organic Tee" in page.text and not page.html.select(".shipping-estimate")


def test_the_estimate_costs_one_query_and_only_with_a_country(shopper, statements):
    """The cart page itself costs one catalog query (tests/perf); the estimate reads
    the zones once when a country is chosen, and the catalog answers from memory."""
    counter = statements(shopper.app.registry.db_engine)
    shopper.get("/cart")
    assert counter.count(lambda: shopper.get("/cart")) == 1, counter.seen
    assert counter.count(lambda: shopper.get("/cart?ship_to=DE")) == 2, counter.seen
    assert "shipping_zones" in counter.seen[-1]
    assert counter.count(lambda: shopper.get("/cart?ship_to=JP")) == 2, counter.seen


def test_the_shopper_is_told_when_tax_comes_on_top(make_test_app, products, demo_zones):
    app = make_test_app(plugins=["catalog", "cart", "shipping", "tests.shipping.sales_tax_plugin"])
    app.post_json("/api/cart/lines", {"sku": "TEE"}, headers={"X-CSRF-Token": csrf_token(app)})
    note = "You choose the method at checkout; tax is added there too."
    assert note in app.get("/cart?ship_to=US").text
    assert note not in app.get("/cart?ship_to=DE").text
