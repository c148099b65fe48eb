"""The store owner's view: one line in ``mercato.plugins`` and the shop's tax comes from
the service — at checkout, instead of the built-in ``tax`` plugin — and a service that
is down stops checkout with a clear answer (503, never a 500) and charges nothing."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from mercato import Destination, Line, Order, price_lines
from mercato.testing import csrf_token

UNAVAILABLE = "We could not calculate the tax right now. Please try again in a moment."
ADDRESS = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
}


@pytest.fixture
def shop(make_taxed_app, stripe_settings):
    return make_taxed_app("catalog cart tax_service payments_stripe", **stripe_settings)


@pytest.fixture
def at_review(shop):
    """A shopper with two tees in the cart and an address in Paris."""
    token = csrf_token(shop)
    shop.post("/cart/add", {"sku": "TEE", "quantity": 2, "csrf_token": token}, status=303)
    shop.post("/checkout/address", {**ADDRESS, "csrf_token": token}, status=303)
    return shop


def test_checkout_prices_the_cart_with_the_services_tax(at_review, tax_api):
    review = at_review.get("/api/checkout").json

    assert review["taxes"] == [
        {
            "name": "VAT",
            "rate": "0.20",
            "amount": {"amount": 800, "currency": "EUR"},
            "included": True,
            "target": "TEE",
        }
    ]
    assert review["total"] == {"amount": 4800, "currency": "EUR"}
    # The address became the destination; the catalog gave the tax class.
    [(_headers, question)] = tax_api.questions
    assert question["destination"] == {"country": "FR", "region": "", "postal_code": "75001"}
    assert question["lines"] == [
        {"sku": "TEE", "quantity": 2, "amount": 4800, "tax_class": "standard"}
    ]


def test_checkout_pages_say_so_with_a_503_when_the_service_is_down(at_review, tax_api):
    tax_api.stop()

    page = at_review.get("/checkout/review", status=503)
    assert UNAVAILABLE in page.text
    api = at_review.get("/api/checkout", status=503)
    assert api.json["error"] == {"status": 503, "message": UNAVAILABLE}


def test_checkout_charges_nothing_when_the_service_is_down(
    at_review, tax_api, dbsession, localstripe
):
    tax_api.stop()

    refused = at_review.post(
        "/checkout/payment",
        {
            "method": "stripe_card",
            "details.payment_method": "pm_card_visa",
            "csrf_token": csrf_token(at_review),
        },
        status=503,
    )

    assert UNAVAILABLE in refused.text
    assert dbsession.scalar(select(func.count()).select_from(Order)) == 0
    assert localstripe.payment_intents() == []


def test_mercato_tax_lines_of_the_service_replace_the_builtin_tax_plugin(
    make_taxed_app, tax_api, shopper_context
):
    # Both listed, the built-in one first: tryfirst, not the order, makes the service win.
    app = make_taxed_app("catalog cart tax tax_service")
    hooks = app.app.registry.hooks
    assert {i.plugin_name for i in hooks.mercato_tax_lines.get_hookimpls()} == {
        "tax",
        "tax_service",
    }

    context = shopper_context(app, Destination("US", "NY", "10001"))
    priced = price_lines(hooks, [Line("TEE", 2, tax_class="standard")], context)

    assert [(t.name, t.rate, t.amount.amount, t.included) for t in priced.taxes] == [
        ("Sales tax NY", Decimal("0.08875"), 426, False)
    ]
    assert len(tax_api.questions) == 1
