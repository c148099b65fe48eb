"""``mercato_tax_lines``: the tax on the priced cart is the service's answer, asked once
per request, and a service that is down or talks nonsense stops the sale with a clear
message instead of a wrong total."""

import json
import logging
from decimal import Decimal

import pytest

from mercato import (
    SHIPPING,
    Adjustment,
    CheckoutError,
    Destination,
    Line,
    Money,
    ShippingOption,
    price_lines,
)

NEW_YORK = Destination("US", "NY", "10001")
PARIS = Destination("FR", "", "75001")
UNAVAILABLE = "We could not calculate the tax right now. Please try again in a moment."


def cart() -> list[Line]:
    """Two tees (24.00 each) and a mug (12.50), as checkout builds the lines."""
    return [Line("TEE", 2, tax_class="standard"), Line("MUG", 1, tax_class="reduced")]


def taxes(priced) -> list[tuple]:
    return [(t.target, t.name, t.rate, t.amount.amount, t.included) for t in priced.taxes]


def test_mercato_tax_lines_come_from_the_service_asked_with_the_api_key(
    make_taxed_app, tax_api, shopper_context
):
    app = make_taxed_app()
    priced = price_lines(app.app.registry.hooks, cart(), shopper_context(app, NEW_YORK))

    # 4800 × 8.875 % = 426.00 and 1250 × 8.875 % = 110.94, added to the prices.
    assert taxes(priced) == [
        ("TEE", "Sales tax NY", Decimal("0.08875"), 426, False),
        ("MUG", "Sales tax NY", Decimal("0.08875"), 111, False),
    ]
    assert (priced.subtotal, priced.total) == (Money(6050, "EUR"), Money(6587, "EUR"))
    [(headers, question)] = tax_api.questions
    assert headers["Authorization"] == "Bearer test-tax-key-123"
    assert headers["Content-Type"] == "application/json"
    assert question == {
        "currency": "EUR",
        "destination": {"country": "US", "region": "NY", "postal_code": "10001"},
        "vat_number": "",
        "lines": [
            {"sku": "TEE", "quantity": 2, "amount": 4800, "tax_class": "standard"},
            {"sku": "MUG", "quantity": 1, "amount": 1250, "tax_class": "reduced"},
        ],
        "adjustments": [],
        "shipping": None,
    }


def test_mercato_tax_lines_included_in_the_prices_leave_the_total_alone(
    make_taxed_app, shopper_context
):
    app = make_taxed_app()
    priced = price_lines(app.app.registry.hooks, cart(), shopper_context(app, PARIS))

    # 4800 × 20/120 = 800.00 and 1250 × 5/105 = 59.52, inside the prices.
    assert taxes(priced) == [
        ("TEE", "VAT", Decimal("0.20"), 800, True),
        ("MUG", "VAT", Decimal("0.05"), 60, True),
    ]
    assert priced.total == priced.subtotal == Money(6050, "EUR")
    assert [(r["label"], r["amount"].amount, r["included"]) for r in priced.summary()] == [
        ("Subtotal", 6050, False),
        ("VAT", 800, True),
        ("VAT", 60, True),
        ("Total", 6050, False),
    ]


def test_mercato_tax_lines_send_the_shipping_discounts_and_vat_number(
    make_taxed_app, tax_api, shopper_context
):
    app = make_taxed_app()
    context = shopper_context(
        app, Destination("DE", "BY", "80331"), shipping_method="express", vat_number="FR40303265045"
    )
    lines = [Line("TEE", 2, unit_price=Money(2400, "EUR"), tax_class="standard")]
    express = ShippingOption("express", "Express", Money(990, "EUR"), "1 day", "test")
    discount = Adjustment("Discount SUMMER10", Money(-480, "EUR"), "SUMMER10", "promotions")

    found = app.app.registry.hooks.mercato_tax_lines(
        lines=lines, adjustments=[discount], shipping=express, context=context
    )

    assert [(t.target, t.amount.amount, t.included) for t in found] == [
        ("TEE", 800, True),
        (SHIPPING, 165, True),  # 990 × 20/120
    ]
    [(_headers, question)] = tax_api.questions
    assert question["vat_number"] == "FR40303265045"
    assert question["destination"] == {"country": "DE", "region": "BY", "postal_code": "80331"}
    assert question["adjustments"] == [{"label": "Discount SUMMER10", "amount": -480}]
    assert question["shipping"] == {"code": "express", "amount": 990}


def test_mercato_tax_lines_ask_once_per_request_for_the_same_cart(
    make_taxed_app, tax_api, shopper_context
):
    app = make_taxed_app()
    hooks = app.app.registry.hooks
    context = shopper_context(app, NEW_YORK)

    # The cart page prices the cart for its lines, its summary and its totals.
    first = price_lines(hooks, cart(), context)
    for _ in range(2):
        assert taxes(price_lines(hooks, cart(), context)) == taxes(first)
    assert len(tax_api.questions) == 1

    context.destination = PARIS  # another question in the same request
    price_lines(hooks, cart(), context)
    price_lines(hooks, cart(), shopper_context(app, NEW_YORK))  # the next request
    assert len(tax_api.questions) == 3


# What a broken service does: nothing (down), a whole reply (HTTP status, body), or a
# change to the first tax of a good answer.
BROKEN_SERVICES = {
    "down": None,
    "failing": (500, b'{"error": "internal"}'),
    "not JSON": (200, b"<html>Maintenance</html>"),
    "no taxes list": (200, b'{"tax": 12}'),
    "a list of strings": (200, b'{"taxes": ["VAT"]}'),
    "unknown target": lambda tax: tax.update(target="POSTER"),
    "tax above the price": lambda tax: tax.update(amount=4801),
    "amount as text": lambda tax: tax.update(amount="426"),
    "rate as words": lambda tax: tax.update(rate="nineteen"),
    "rate above 100 %": lambda tax: tax.update(rate="1.5"),
    "no name": lambda tax: tax.update(name=" "),
    "included unsaid": lambda tax: tax.pop("included"),
}


def break_service(tax_api, broken: str) -> None:
    how = BROKEN_SERVICES[broken]
    if how is None:
        tax_api.stop()
    elif isinstance(how, tuple):
        tax_api.reply = lambda question: how
    else:

        def reply(question):
            answer = tax_api.answer(question)
            how(answer["taxes"][0])
            return 200, json.dumps(answer).encode()

        tax_api.reply = reply


@pytest.mark.parametrize("broken", BROKEN_SERVICES)
def test_mercato_tax_lines_refuse_with_a_clear_message_when_the_service_fails(
    broken, make_taxed_app, tax_api, shopper_context, caplog
):
    app = make_taxed_app()
    break_service(tax_api, broken)

    with (
        caplog.at_level(logging.WARNING, logger="mercato_tax_service"),
        pytest.raises(CheckoutError) as refused,
    ):
        price_lines(app.app.registry.hooks, cart(), shopper_context(app, NEW_YORK))

    assert (refused.value.status, refused.value.message) == (503, UNAVAILABLE)
    # The shopper reads the sentence; staff read the cause in the log.
    assert f"tax service {tax_api.url} gave no tax" in caplog.text


def test_mercato_tax_lines_give_up_after_the_timeout(make_taxed_app, tax_api, shopper_context):
    app = make_taxed_app(**{"mercato.tax_service.timeout": "0.2"})
    tax_api.delay = 1.0
    with pytest.raises(CheckoutError, match="could not calculate the tax"):
        price_lines(app.app.registry.hooks, cart(), shopper_context(app, NEW_YORK))


def test_mercato_tax_lines_with_a_wrong_api_key_refuse(make_taxed_app, shopper_context):
    app = make_taxed_app(**{"mercato.tax_service.api_key": "revoked"})
    with pytest.raises(CheckoutError, match="could not calculate the tax"):
        price_lines(app.app.registry.hooks, cart(), shopper_context(app, NEW_YORK))


def test_mercato_tax_lines_ask_once_per_request_after_a_failure_too(
    make_taxed_app, tax_api, shopper_context
):
    app = make_taxed_app()
    hooks = app.app.registry.hooks
    context = shopper_context(app, NEW_YORK)
    working = tax_api.reply
    break_service(tax_api, "failing")
    # The payment step prices the cart, then the page that shows the refusal again.
    for _ in range(2):
        with pytest.raises(CheckoutError):
            price_lines(hooks, cart(), context)
    assert len(tax_api.questions) == 1

    tax_api.reply = working  # back: the shopper's next page is priced
    priced = price_lines(hooks, cart(), shopper_context(app, NEW_YORK))
    assert priced.total == Money(6587, "EUR")
    assert len(tax_api.questions) == 2
