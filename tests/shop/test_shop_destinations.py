"""Prices by destination, in the shop as ``mercato demo`` composes it: the shipping and
tax plugins with the demo's zones and rates (a shop in Germany, prices including VAT).

The same cart — 1 × TEE at 24.00 and 2 × MUG at 12.50, 49.00 of goods — goes to five
destinations through the storefront's own steps (address, shipping method, review,
payment). Each gives its shipping and tax lines, the order freezes them, and the
PaymentIntent in localstripe is for exactly the order's total. The figures are worked
out by hand in the comments (tax rounded half up per line, docs/tax.md).
"""

import re
import threading

import pytest
from sqlalchemy import select

from mercato import Address
from mercato.orders import models as m

from .conftest import all_orders

CART = {"TEE": 1, "MUG": 2}

ADDRESSES = {
    "DE": {
        "line1": "Unter den Linden 1",
        "postal_code": "10117",
        "city": "Berlin",
        "country": "DE",
    },
    "FR": {"line1": "12 rue de Rivoli", "postal_code": "75001", "city": "Paris", "country": "FR"},
    "US-NY": {
        "line1": "350 Fifth Avenue",
        "postal_code": "10118",
        "city": "New York",
        "country": "US",
        "region": "NY",
    },
    "US-CA": {
        "line1": "1 Market Street",
        "postal_code": "94105",
        "city": "San Francisco",
        "country": "US",
        "region": "CA",
    },
}

# (address, VAT number, shipping method, shipping price, {tax name: [amounts]}, total)
DESTINATIONS = {
    # Germany: standard shipping (49.00 is under the 50.00 free threshold); the 19 % VAT
    # is inside every price: 2400·19/119 = 383, 2500·19/119 = 399, 490·19/119 = 78.
    "Germany": ("DE", "", "de-standard", 490, {"VAT 19%": [383, 399, 78]}, 5390),
    # France: EU standard shipping; the same gross prices, with France's 20 % inside:
    # 2400/6 = 400, 2500/6 = 416.67 → 417, 990/6 = 165.
    "France": ("FR", "", "eu-standard", 990, {"VAT 20%": [400, 417, 165]}, 5890),
    # New York: German VAT comes out (export), then New York's 4 % on the net prices:
    # nets 2017, 2101, 1990 − 318 = 1672; tax 80.68 → 81, 84.04 → 84, 66.88 → 67.
    # 4900 + 1990 − (383 + 399 + 318) + (81 + 84 + 67) = 6022.
    "New York": (
        "US-NY",
        "",
        "us-international",
        1990,
        {"VAT 19% removed (export)": [-383, -399, -318], "Sales tax NY 4%": [81, 84, 67]},
        6022,
    ),
    # California, 7.25 % on the same nets: 146.23 → 146, 152.32 → 152, 121.22 → 121.
    # 4900 + 1990 − 1100 + 419 = 6209.
    "California": (
        "US-CA",
        "",
        "us-international",
        1990,
        {"VAT 19% removed (export)": [-383, -399, -318], "Sales tax CA 7.25%": [146, 152, 121]},
        6209,
    ),
    # A German business with a French VAT number: reverse charge, the net price only.
    # 5390 − (383 + 399 + 78) = 4530.
    "German business, French VAT number": (
        "DE",
        "FR40303265045",
        "de-standard",
        490,
        {"VAT 19% reverse charge (FR40303265045)": [-383, -399, -78]},
        4530,
    ),
}


def intent_amount(shop, order: m.Order) -> int:
    intent = shop.localstripe.client().v1.payment_intents.retrieve(order.payments[-1].reference)
    return intent.amount


def shown_total(page) -> int:
    """The total the payment form carries: what the shopper was shown."""
    return int(page.html.select_one("input[name=expected_total]")["value"])


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_the_same_cart_costs_what_its_destination_says(
    demo_shop, demo_shopper, dbsession, destination
):
    where, vat_number, method, shipping, taxes, total = DESTINATIONS[destination]
    for sku, quantity in CART.items():
        demo_shopper.add(sku, quantity)
    demo_shopper.address(**ADDRESSES[where], vat_number=vat_number, method=False)
    options = demo_shopper.app.get("/checkout/shipping")
    assert f'value="{method}"' in options.text, f"{method} is offered for {where}"
    demo_shopper.shipping(method)

    payment_page = demo_shopper.app.get("/checkout/payment")
    assert shown_total(payment_page) == total
    demo_shopper.pay()

    [order] = all_orders(dbsession)
    assert order.status == m.PAID
    assert (order.shipping_method, order.shipping_amount) == (method, shipping)
    frozen: dict[str, list[int]] = {}
    for tax in order.tax_lines:
        frozen.setdefault(tax["name"], []).append(tax["amount"])
    assert frozen == taxes
    assert [t["target"] for t in order.tax_lines if t["name"] == next(iter(taxes))] == [
        "TEE",
        "MUG",
        "shipping",
    ]
    assert order.total_amount == total
    assert order.amount_captured == total
    assert intent_amount(demo_shop, order) == total, "Stripe charged the order's total"
    assert order.vat_number == vat_number


def test_the_order_page_shows_shipping_each_tax_line_and_the_total(
    demo_shop, demo_shopper, dbsession
):
    for sku, quantity in CART.items():
        demo_shopper.add(sku, quantity)
    demo_shopper.address(**ADDRESSES["US-NY"])
    page = demo_shopper.pay().follow()

    text = re.sub(r"\s+", " ", page.html.get_text(" "))
    for words in ("International", "$", "VAT 19% removed (export)", "Sales tax NY 4%"):
        if words == "$":
            continue
        assert words in text, f"the order page shows {words!r}"
    assert "€19.90" in text and "€60.22" in text and "-€11.00" in text.replace("−", "-")


def test_a_new_address_after_the_review_is_priced_again_before_any_payment(
    demo_shop, demo_shopper, dbsession
):
    for sku, quantity in CART.items():
        demo_shopper.add(sku, quantity)
    demo_shopper.address(**ADDRESSES["DE"])
    shown = shown_total(demo_shopper.app.get("/checkout/payment"))
    assert shown == 5390

    # Another tab: the shopper moves the order to New York and picks its method.
    demo_shopper.address(**ADDRESSES["US-NY"])
    refused = demo_shopper.app.post(
        "/checkout/payment",
        {
            "method": "stripe_card",
            "details.payment_method": demo_shopper.card(),
            "expected_total": str(shown),
            "csrf_token": demo_shopper.token,
        },
        status=409,
    )

    assert "The total changed from €53.90 to €60.22" in refused.text
    assert all_orders(dbsession) == []
    assert demo_shop.localstripe.payment_intents() == [], "nothing was charged"
    assert shown_total(refused) == 6022, "the page now shows the new total"


def test_the_shipping_method_of_the_old_address_is_not_kept_for_the_new_one(
    demo_shopper, dbsession
):
    demo_shopper.add("MUG")
    demo_shopper.address(**ADDRESSES["DE"], method="de-express")
    demo_shopper.address(**ADDRESSES["FR"], method=False)

    review = demo_shopper.app.get("/checkout/review")
    assert review.status_int == 303 and review.location.endswith("/checkout/shipping")
    refused = demo_shopper.pay(status=400)
    assert "Please choose a shipping method." in refused.text
    assert all_orders(dbsession) == []


def test_the_only_method_for_a_destination_is_chosen_already_two_are_left_to_the_shopper(
    demo_shopper,
):
    demo_shopper.add("MUG")
    demo_shopper.address(**ADDRESSES["FR"], method=False)
    [only] = demo_shopper.app.get("/checkout/shipping").html.select("input[type=radio]")
    assert (only["value"], only.has_attr("checked")) == ("eu-standard", True)

    demo_shopper.address(**ADDRESSES["DE"], method=False)
    radios = demo_shopper.app.get("/checkout/shipping").html.select("input[type=radio]")
    assert [r["value"] for r in radios] == ["de-standard", "de-express"]
    assert not any(r.has_attr("checked") for r in radios), "a price to choose, not to miss"


def test_a_destination_no_zone_covers_gets_a_clear_answer(demo_shopper, dbsession):
    demo_shopper.add("MUG")
    demo_shopper.address(
        line1="1-1 Chiyoda", postal_code="100-0001", city="Tokyo", country="JP", method=False
    )

    page = demo_shopper.app.get("/checkout/shipping", status=409)
    assert "Sorry, we do not ship to Japan yet." in page.text
    refused = demo_shopper.shipping("de-standard", status=409)
    assert "we do not ship to Japan" in refused.text
    demo_shopper.pay(status=409)
    assert all_orders(dbsession) == []


def test_an_unknown_country_or_state_is_refused_with_a_message(demo_shopper):
    demo_shopper.add("MUG")
    for fields, message in (
        ({"country": "XX"}, "Choose a country from the list."),
        ({"country": "US", "region": ""}, "Choose the state or province in United States."),
        ({"country": "US", "region": "ZZ"}, "Choose a state or province of United States"),
        ({"vat_number": "12 345 678"}, "Enter a VAT number like DE123456789."),
    ):
        page = demo_shopper.app.post(
            "/checkout/address",
            {
                **ADDRESSES["DE"],
                "email": "ada@example.com",
                "name": "Ada Lovelace",
                **fields,
                "csrf_token": demo_shopper.token,
            },
            status=400,
        )
        assert message in page.text


def test_a_refund_of_one_line_gives_back_its_tax(demo_shop, demo_shopper, demo_staff, dbsession):
    for sku, quantity in CART.items():
        demo_shopper.add(sku, quantity)
    demo_shopper.address(**ADDRESSES["US-NY"])
    demo_shopper.pay()
    [order] = all_orders(dbsession)

    answer = demo_staff.app.post_json(
        f"/api/staff/orders/{order.number}/refunds",
        {"lines": [{"sku": "MUG", "quantity": 1}], "reason": "broken"},
        headers={"X-CSRF-Token": demo_staff.token},
    )

    # The MUG line cost 2500 − 399 (German VAT out) + 84 (New York's tax) = 2185 for two:
    # one is 1092.5 → 1093.
    assert answer.json["refund"]["amount"] == {"amount": 1093, "currency": "EUR"}
    [order] = all_orders(dbsession)
    assert order.amount_refunded == 1093
    reference = order.payments[-1].reference
    refunds = demo_shop.localstripe.client().v1.refunds.list(params={"payment_intent": reference})
    assert [refund.amount for refund in refunds.data] == [1093]

    shipping = demo_staff.app.post_json(
        f"/api/staff/orders/{order.number}/refunds",
        {"shipping": True, "reason": "late"},
        headers={"X-CSRF-Token": demo_staff.token},
    )
    # 1990 − 318 + 67 = 1739.
    assert shipping.json["refund"]["amount"]["amount"] == 1739

    again = demo_staff.app.post_json(
        f"/api/staff/orders/{order.number}/refunds",
        {"shipping": True},
        headers={"X-CSRF-Token": demo_staff.token},
        status=400,
    )
    assert again.json["error"]["message"] == (
        f"The shipping of order {order.number} was refunded already."
    )
    too_many = demo_staff.app.post_json(
        f"/api/staff/orders/{order.number}/refunds",
        {"lines": [{"sku": "MUG", "quantity": 2}]},
        headers={"X-CSRF-Token": demo_staff.token},
        status=400,
    )
    assert too_many.json["error"]["message"] == (
        f"Only 1 × Blue Mug of order {order.number} is left to refund."
    )
    [order] = all_orders(dbsession)
    assert order.amount_refunded == 1093 + 1739


def test_two_staff_refunding_the_same_units_at_once_refund_them_once(
    demo_shop, demo_shopper, demo_staff, admin_user, dbsession
):
    for sku, quantity in CART.items():
        demo_shopper.add(sku, quantity)
    demo_shopper.address(**ADDRESSES["DE"])
    demo_shopper.pay()
    [order] = all_orders(dbsession)
    other = demo_shop.browser()
    other.log_in(admin_user.email, admin_user.password)
    start, answers = threading.Barrier(2), []

    def refund(staff):
        start.wait()
        answer = staff.app.post_json(
            f"/api/staff/orders/{order.number}/refunds",
            {"lines": [{"sku": "MUG", "quantity": 2}]},
            headers={"X-CSRF-Token": staff.token},
            status="*",
        )
        answers.append(answer.status_int)

    threads = [threading.Thread(target=refund, args=(s,)) for s in (demo_staff, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answers) == [200, 409], "the second waits for the first, then is refused"
    [order] = all_orders(dbsession)
    assert order.amount_refunded == 2500, "two mugs, VAT included, once"
    reference = order.payments[-1].reference
    refunds = demo_shop.localstripe.client().v1.refunds.list(params={"payment_intent": reference})
    assert [refund.amount for refund in refunds.data] == [2500]


def country_choices(page) -> list[tuple[str, str]]:
    select = page.html.find("select", id="f-country")
    return [(o["value"], o.text) for o in select.find_all("option") if o["value"]]


def test_the_address_book_offers_the_countries_checkout_ships_to(
    demo_shopper, customer_user, dbsession
):
    """One list: an address saved in the account is one checkout accepts, by the same
    names (the account pages had a list of their own, with Kosovo, the Canary Islands
    and six more that checkout then refused)."""
    demo_shopper.log_in(customer_user.email)
    demo_shopper.add("MUG")
    saving = demo_shopper.app.get("/account/addresses/new")
    checkout = demo_shopper.app.get("/checkout/address")
    assert country_choices(saving) == country_choices(checkout)
    assert ("DE", "Germany") in country_choices(saving)

    refused = demo_shopper.app.post(
        "/account/addresses/new",
        {
            **ADDRESSES["DE"],
            "name": "Ada Lovelace",
            "country": "XK",
            "csrf_token": demo_shopper.token,
        },
        status=400,
    )
    assert refused.html.find(id="e-country").text == "Please choose a country."
    assert dbsession.scalars(select(Address)).all() == []
