"""The shopper's side of prices by destination: the address step (countries by name,
states, VAT number, a customer's saved addresses, the billing address only when asked),
the shipping step, and the totals (shipping and each tax line) on the review, payment,
order and cart pages and in the confirmation email.

The shop is the checkout tests' stand-in shop with ``StandInShipping`` below, a shipping
and tax plugin of the smallest kind: it ships to France and Germany (two methods) and to
the United States (one), nowhere else; it taxes like a German shop whose prices include
19 % VAT: included in the goods, added to the shipping, taken out of an export.
"""

from decimal import Decimal

import pytest
from markupsafe import Markup
from sqlalchemy import event, select

from mercato import SHIPPING, Address, Money, ShippingOption, TaxLine, hookimpl
from mercato.outbox import OutboxMessage
from mercato.testing import login
from mercato_notifications.services import EmailTemplates
from tests.cart import pricing_plugin

from .shopping import ADDRESS, SHOP_PLUGIN, Shopper, orders, payment_intents

STAND_IN_PLUGIN = "tests.checkout.test_checkout_shipping_step:STAND_IN"
VAT = Decimal("0.19")


class StandInShipping:
    """Ships to France and Germany by two methods, to the United States by one."""

    METHODS = {
        "FR": [("standard", "Standard", 490, "2–3 working days"), ("express", "Express", 990, "")],
        "DE": [("standard", "Standard", 490, "2–3 working days"), ("express", "Express", 990, "")],
        "US": [("international", "International", 1900, "5–8 working days")],
    }

    @hookimpl
    def mercato_shipping_options(self, lines, context):
        return [
            ShippingOption(code, name, Money(price, context.currency), estimate)
            for code, name, price, estimate in self.METHODS.get(context.destination.country, [])
        ]

    @hookimpl
    def mercato_tax_lines(self, lines, adjustments, shipping, context):
        if context.destination.country == "US":  # an export: the VAT comes out
            removed = "VAT 19% removed (export)"
            return [
                TaxLine(removed, VAT, -line.total.tax_included(VAT), False, line.sku)
                for line in lines
            ]
        taxes = [
            TaxLine("VAT 19%", VAT, line.total.tax_included(VAT), True, line.sku) for line in lines
        ]
        if shipping is not None:
            taxes.append(TaxLine("VAT 19%", VAT, shipping.price.tax_added(VAT), False, SHIPPING))
        return taxes

    @hookimpl
    def mercato_render_slot(self, request, name, context):
        if name == "cart_after_lines":
            return Markup('<p class="shipping-estimate">Shipping from €4.90</p>')
        return None


STAND_IN = StandInShipping()
PLUGINS = ["payments_stripe", SHOP_PLUGIN, STAND_IN_PLUGIN]
US_ADDRESS = {"line1": "1 Broadway", "postal_code": "10004", "city": "New York", "country": "US"}


@pytest.fixture
def pens(shop_items):
    shop_items("PEN-1", "Fountain pen", 2200, 10)


@pytest.fixture
def shipping_shop(make_test_app, shop_settings, pens):
    return make_test_app(plugins=PLUGINS, **shop_settings)


@pytest.fixture
def buyer(shipping_shop, localstripe):
    return Shopper(shipping_shop, localstripe)


def totals(page) -> list[tuple[str, str]]:
    """The rows under a page's lines: (label, amount)."""
    return [
        (" ".join(row.th.text.split()), row.td.text.strip()) for row in page.html.select("tfoot tr")
    ]


def steps(page) -> tuple[list[str], str]:
    """The checkout's steps, and the one marked as the current step."""
    items = page.html.select("ol.checkout-steps li")
    [current] = page.html.select('ol.checkout-steps [aria-current="step"]')
    return [" ".join(li.text.split()) for li in items], current.text.strip()


def post_address(shopper, status=303, **changes):
    return shopper.app.post(
        "/checkout/address", {**ADDRESS, **changes, "csrf_token": shopper.token}, status=status
    )


# ---------------------------------------------------------------------------
# The address step
# ---------------------------------------------------------------------------


def test_address_page_names_countries_and_states_and_every_field_can_be_autofilled(shopper):
    page = shopper.app.get("/checkout/address")

    country = page.html.select_one('select[name="country"]')
    assert country.select_one('option[value="DE"]').text == "Germany"
    assert country.select_one('option[value="US"]').text == "United States"
    region = page.html.select_one('select[name="region"]')
    assert [g["label"] for g in region.select("optgroup")] == [
        "United States",
        "Canada",
        "Australia",
    ]
    assert region.select_one('option[value="US-NY"]').text == "New York"
    assert region.select_one('option[value="AU-WA"]').text == "Western Australia"
    vat = page.html.select_one('input[name="vat_number"]')
    assert page.html.select_one('label[for="f-vat_number"]').text.startswith(
        "VAT number (businesses)"
    )
    assert "required" not in vat.attrs
    form = page.html.select_one("form.address-form")
    fields = form.select("input:not([type=hidden]):not([type=checkbox]), select")
    assert len(fields) == 17, "email, 8 shipping fields, the VAT number, 7 billing fields"
    assert [f["name"] for f in fields if not f.get("autocomplete")] == []
    assert form.select_one('[name="line1"]')["autocomplete"] == "shipping address-line1"
    assert form.select_one('[name="billing_country"]')["autocomplete"] == "billing country"


def test_the_billing_address_shows_only_when_ticked_and_is_read_only_then(shopper, pens):
    page = shopper.app.get("/checkout/address")
    box = page.html.select_one('input[type=checkbox][name="billing_different"]')
    assert "checked" not in box.attrs
    # Hidden by a CSS rule keyed on the box (no script): the box comes first, then the
    # fieldset, both children of the same element.
    assert box.find_next_sibling("fieldset")["class"] == ["billing-address"]
    css = shopper.app.get("/static/storefront/checkout.css").text
    assert ".billing-address { display: none;" in css
    assert "#f-billing_different:checked ~ .billing-address { display: block; }" in css

    shopper.add("PEN-1")
    billing = {"billing_name": "Someone Else", "billing_line1": "1 Other Street"}
    post_address(shopper, **billing)  # typed, then untick: not read, not refused
    assert "Billing address" not in shopper.app.get("/checkout/review").text

    refused = post_address(shopper, status=400, billing_different="on", **billing)
    assert refused.html.select_one("#e-billing_city").text == "Required"
    assert "checked" in refused.html.select_one('[name="billing_different"]').attrs

    post_address(
        shopper,
        billing_different="on",
        **billing,
        billing_postal_code="10115",
        billing_city="Berlin",
        billing_country="DE",
    )
    review = shopper.app.get("/checkout/review")
    assert "Someone Else" in review.html.select_one('section[aria-labelledby="bill-to"]').text
    again = shopper.app.get("/checkout/address")
    assert "checked" in again.html.select_one('[name="billing_different"]').attrs
    assert again.html.select_one('[name="billing_country"] option[selected]')["value"] == "DE"


def test_a_state_is_asked_for_the_united_states_and_must_be_one_of_its_own(shopper, pens):
    shopper.add("PEN-1")

    missing = post_address(shopper, status=400, **US_ADDRESS)
    assert (
        missing.html.select_one("#e-region").text
        == "Choose the state or province in United States."
    )
    unknown = post_address(shopper, status=400, **US_ADDRESS, region="ZZ")
    assert unknown.html.select_one("#e-region").text == (
        "Choose a state or province of United States from the list."
    )
    # Washington is "US-WA", Western Australia "AU-WA": a state of another country is none.
    other = post_address(shopper, status=400, **US_ADDRESS, region="AU-WA")
    assert (
        other.html.select_one("#e-region").text == "Choose the state or province in United States."
    )
    assert 'value="AU-WA" selected' in other.text, "the choice is kept to be corrected"

    post_address(shopper, **US_ADDRESS, region="US-NY")
    review = shopper.app.get("/checkout/review")
    assert "New York<br>United States" in review.text.replace("\n", "")
    assert shopper.app.get("/checkout/address").html.select_one(
        '[name="region"] option[selected]'
    )["value"] == "US-NY"  # fmt: skip


def test_a_vat_number_is_kept_as_compared_and_a_malformed_one_is_explained(shopper, pens):
    shopper.add("PEN-1")

    refused = post_address(shopper, status=400, vat_number="12")
    assert refused.html.select_one("#e-vat_number").text == "Enter a VAT number like DE123456789."
    assert refused.html.select_one('[name="vat_number"]')["aria-describedby"] == (
        "h-vat_number e-vat_number"
    )

    post_address(shopper, vat_number="fr 40 303 265 045")
    assert "VAT number: FR40303265045" in shopper.app.get("/checkout/review").text
    page = shopper.app.get("/checkout/address")
    assert page.html.select_one('[name="vat_number"]')["value"] == "FR40303265045"


def test_a_customer_finds_their_name_email_and_saved_addresses(
    shopper, pens, customer_user, make_user, dbsession
):
    other = make_user("other@example.com")
    mine = Address(
        user_id=customer_user.id,
        name="Carla Customer",
        line1="5 Fifth Avenue",
        postal_code="10003",
        city="New York",
        region="New York",
        country="US",
    )
    theirs = Address(user_id=other.id, name="Other", line1="Secret 1", city="Lyon", country="FR")
    dbsession.add_all([mine, theirs])
    dbsession.commit()
    login(shopper.app, customer_user.email)

    page = shopper.app.get("/checkout/address")
    assert page.html.select_one('[name="name"]')["value"] == "Carla Customer"
    assert page.html.select_one('[name="email"]')["value"] == customer_user.email
    [saved] = page.html.select(".saved-addresses li")
    assert "5 Fifth Avenue" in saved.text and "United States" in saved.text
    assert "Secret 1" not in page.text

    filled = page.click(href=f"address={mine.id}")
    assert filled.html.select_one('[name="line1"]')["value"] == "5 Fifth Avenue"
    assert filled.html.select_one('[name="country"] option[selected]')["value"] == "US"
    assert filled.html.select_one('[name="region"] option[selected]')["value"] == "US-NY", (
        "the state typed on the account page becomes the state in the list"
    )
    for hostile in (str(theirs.id), "abc", "1e9", ""):
        not_filled = shopper.app.get("/checkout/address", {"address": hostile})
        assert not_filled.html.select_one('[name="line1"]')["value"] == ""


@pytest.mark.parametrize(
    "changes",
    [
        {"country": "XX"},
        {"country": "US", "region": "ZZ"},
        {"country": "US", "region": "US-" + "N" * 10_000},
        {"vat_number": "DE" + "1" * 10_000},
        {"name": "x" * 10_000},
        {"billing_different": "on", "billing_country": "XX", "billing_region": "ZZ-ZZ"},
    ],
    ids=["country", "region", "long-region", "long-vat", "long-name", "billing"],
)
def test_hostile_address_input_is_a_4xx_with_a_message(shopper, pens, changes):
    shopper.add("PEN-1")
    page = post_address(shopper, status=400, **changes)
    assert "Some fields need your attention." in page.text
    assert page.html.select(".field-error"), "the field is named"


def test_a_nul_byte_is_refused_before_any_view(shopper, pens):
    shopper.add("PEN-1")
    for field in ("country", "region", "vat_number", "name"):
        post_address(shopper, status=400, **{field: "FR\x00"})


# ---------------------------------------------------------------------------
# The shipping step
# ---------------------------------------------------------------------------


def test_a_shop_without_a_shipping_plugin_has_no_shipping_step(shopper, pens):
    shopper.add("PEN-1")
    assert steps(shopper.app.get("/checkout/address")) == (
        ["Address", "Review", "Payment"],
        "Address",
    )
    assert post_address(shopper).location.endswith("/checkout/review")
    assert shopper.app.get("/checkout/shipping", status=303).location.endswith("/checkout/review")
    review = shopper.app.get("/checkout/review")
    assert steps(review) == (["Address", "Review", "Payment"], "Review")
    assert totals(review) == [("Subtotal", "€22.00"), ("Total", "€22.00")]


def test_the_shopper_chooses_a_shipping_method_between_address_and_review(buyer):
    buyer.add("PEN-1")
    assert steps(buyer.app.get("/checkout/address"))[0] == [
        "Address",
        "Shipping",
        "Review",
        "Payment",
    ]
    assert buyer.address().location.endswith("/checkout/shipping")
    # No method yet: the review and payment pages send the shopper to choose one.
    for page in ("/checkout/review", "/checkout/payment"):
        assert buyer.app.get(page, status=303).location.endswith("/checkout/shipping")

    page = buyer.app.get("/checkout/shipping")
    assert steps(page) == (["Address", "Shipping", "Review", "Payment"], "Shipping")
    choices = [" ".join(li.text.split()) for li in page.html.select(".choice")]
    assert choices == ["Standard 2–3 working days €4.90", "Express €9.90"]
    radio = page.html.select_one('input[value="standard"]')
    assert radio["type"] == "radio" and radio.find_next_sibling("label")["for"] == radio["id"]

    refused = buyer.shipping("teleport", status=400)
    assert refused.html.select_one("#checkout-error").text.strip() == (
        "Please choose one of the shipping methods offered."
    )
    assert buyer.shipping("standard").location.endswith("/checkout/review")

    review = buyer.app.get("/checkout/review")
    assert totals(review) == [
        ("Subtotal", "€22.00"),
        ("Shipping (Standard)", "€4.90"),
        ("VAT 19% (included)", "€3.51"),
        ("VAT 19%", "€0.93"),
        ("Total", "€27.83"),
    ]
    assert "Shipping method: Standard · 2–3 working days" in " ".join(review.text.split())
    payment = buyer.app.get("/checkout/payment")
    assert totals(payment) == totals(review)
    assert payment.forms["payment-form"]["expected_total"].value == "2783"
    assert "Pay €27.83" in payment.text
    again = buyer.app.get("/checkout/shipping")
    assert "checked" in again.html.select_one('input[value="standard"]').attrs


def test_the_shipping_step_costs_no_query_beyond_the_review_of_the_cart(buyer):
    buyer.add("PEN-1")
    buyer.address()
    buyer.shipping("standard")
    seen = []
    engine = buyer.app.app.registry.db_engine

    def listener(conn, cursor, statement, *rest):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        costs = {}
        for page in ("/checkout/shipping", "/checkout/review", "/checkout/payment"):
            seen.clear()
            buyer.app.get(page)
            costs[page] = len(seen)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    # The stand-in shop's own reads (cart names, price, stock); the stand-in shipping
    # and tax plugin reads nothing, so each page costs what pricing the cart costs.
    assert set(costs.values()) == {3}, costs


def test_we_do_not_ship_there_is_said_plainly_with_a_4xx(buyer):
    buyer.add("PEN-1")
    buyer.address(country="JP", postal_code="100-0001", city="Tokyo")

    page = buyer.app.get("/checkout/shipping", status=409)
    assert "Sorry, we do not ship to Japan yet. Please choose another address." in page.text
    assert page.html.select_one('a[href="/checkout/address"]') is not None
    assert buyer.shipping("standard", status=409).html.select_one(
        "#checkout-error"
    ).text.strip() == "Please choose one of the shipping methods offered."  # fmt: skip
    assert buyer.app.get("/checkout/review", status=303).location.endswith("/checkout/shipping")


def test_a_new_address_after_the_payment_page_is_priced_again_before_paying(
    buyer, dbsession, localstripe
):
    buyer.add("PEN-1")
    buyer.address()
    buyer.shipping("standard")
    stale = buyer.app.get("/checkout/payment").forms["payment-form"]
    assert stale["expected_total"].value == "2783"

    # The shopper goes back and ships to New York: Standard is not offered there.
    assert buyer.address(**US_ADDRESS, region="US-NY").location.endswith("/checkout/shipping")
    assert buyer.app.get("/checkout/review", status=303).location.endswith("/checkout/shipping")
    stale["method"] = "stripe_card"
    stale["details.payment_method"] = buyer.card()
    unchosen = stale.submit(status=400)
    assert "Please choose a shipping method." in unchosen.text
    assert unchosen.html.select_one('#checkout-error a[href="/checkout/shipping"]') is not None

    buyer.shipping("international")
    stale["details.payment_method"] = buyer.card()
    changed = stale.submit(status=409)
    assert "The total changed from €27.83 to €37.49 since you saw it." in changed.text
    assert orders(dbsession) == [] and payment_intents(localstripe) == []

    fresh = changed.forms["payment-form"]
    fresh["method"] = "stripe_card"
    fresh["details.payment_method"] = buyer.card()
    fresh.submit(status=303)
    [order] = orders(dbsession)
    [intent] = payment_intents(localstripe)
    assert order.total_amount == intent.amount == 3749


# ---------------------------------------------------------------------------
# The order: its page and its email
# ---------------------------------------------------------------------------


def test_the_order_page_and_email_show_shipping_and_each_tax_line(buyer, dbsession):
    buyer.add("PEN-1", 2)
    buyer.address(**US_ADDRESS, region="US-NY", vat_number="")
    buyer.shipping("international")
    confirmation = buyer.pay().follow()

    expected = [
        ("Subtotal", "€44.00"),
        ("Shipping (International)", "€19.00"),
        ("VAT 19% removed (export)", "-€7.03"),
        ("Total", "€55.97"),
    ]
    assert totals(confirmation) == expected
    text = " ".join(confirmation.text.split())
    assert "Shipping method: International" in text
    assert "New York United States" in " ".join(
        confirmation.html.select_one("address").stripped_strings
    )
    [order] = orders(dbsession)
    assert totals(buyer.app.get(f"/orders/{order.access_token}")) == expected

    [payload] = dbsession.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.event == "order.placed")
    ).all()
    email = EmailTemplates([], "Test shop", "", "en_US").render("order.placed", payload)
    lines = email.text.splitlines()
    start = lines.index("Subtotal: €44.00")
    assert lines[start : start + 4] == [
        "Subtotal: €44.00",
        "Shipping (International): €19.00",
        "VAT 19% removed (export): -€7.03",
        "Total: €55.97",
    ]
    assert (
        '<th scope="row" colspan="3">Shipping (International)</th><td class="num">€19.00</td>'
        in email.html
    )


def test_an_email_groups_tax_lines_and_shows_included_tax_as_included(buyer, dbsession):
    buyer.add("PEN-1", 2)
    buyer.address(country="DE", postal_code="10115", city="Berlin")
    buyer.shipping("express")
    buyer.pay()
    [payload] = dbsession.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.event == "order.placed")
    ).all()

    email = EmailTemplates([], "Test shop", "", "en_US").render("order.placed", payload)

    lines = email.text.splitlines()
    start = lines.index("Subtotal: €44.00")
    assert lines[start : start + 5] == [
        "Subtotal: €44.00",
        "Shipping (Express): €9.90",
        "VAT 19%: €1.88",
        "VAT 19% (included): €7.03",
        "Total: €55.78",
    ]
    assert 'VAT 19% (included)</th><td class="num">€7.03</td>' in email.html


# ---------------------------------------------------------------------------
# The cart page
# ---------------------------------------------------------------------------


def test_the_cart_page_shows_its_totals_and_the_shipping_estimate_without_the_storefront(
    make_test_app,
):
    pricing_plugin.reset(prices={"MUG": 1250})
    shop = make_test_app(
        plugins=["tests.cart.pricing_plugin", "cart", STAND_IN_PLUGIN, "no:storefront"]
    )
    token = shop.get("/api/session/csrf").json["csrf_token"]
    shop.post("/cart/add", {"sku": "MUG", "quantity": "2", "csrf_token": token}, status=303)

    page = shop.get("/cart")

    assert totals(page) == [("Subtotal", "€25.00"), ("Total", "€25.00")]
    assert page.html.select_one(".cart-total td").text.strip() == "€25.00"
    assert page.html.select_one(".shipping-estimate").text == "Shipping from €4.90"
    pricing_plugin.reset()
