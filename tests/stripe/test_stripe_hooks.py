"""payments_stripe's answers to the payment hooks, called as the kernel calls them,
against localstripe: each repeatable with the same idempotency key."""

import functools

import pytest
from pyramid.scripting import prepare

from mercato import Money, PaymentInfo
from mercato.orders import models as m
from tests.checkout.shopping import CARD_OK, Shopper, payment_intents


@pytest.fixture
def mercato_plugins():
    return ["payments_stripe"]


@pytest.fixture
def stripe_app(make_test_app, stripe_settings):
    return make_test_app(plugins=["payments_stripe"], **stripe_settings)


class CalledAsTheKernelCalls:
    """The app's hooks, each call given the app's registry as the kernel gives it."""

    def __init__(self, registry):
        self.registry = registry

    def __getattr__(self, name):
        return functools.partial(getattr(self.registry.hooks, name), registry=self.registry)


@pytest.fixture
def hooks(stripe_app):
    return CalledAsTheKernelCalls(stripe_app.app.registry)


def an_order(total: int = 5000) -> m.Order:
    return m.Order(number="M-000042", checkout_id="c0ffee", currency="EUR", total_amount=total)


def info(result, attempt: int = 1, amount: int = 5000) -> PaymentInfo:
    return PaymentInfo(
        id=7,
        checkout_id="c0ffee",
        attempt=attempt,
        provider="stripe",
        method="stripe_card",
        reference=result.reference if result else None,
        status=result.status if result else "pending",
        amount=amount,
        currency="EUR",
    )


def authorize(hooks, stripe_app, localstripe, key="mercato:c0ffee:1:authorize"):
    card = Shopper(stripe_app, localstripe).card(CARD_OK)
    return hooks.mercato_authorize_payment(
        order=an_order(),
        method="stripe_card",
        details={"payment_method": card},
        idempotency_key=key,
    )


def test_mercato_payment_methods_offers_the_card_with_the_configured_stripe_js(
    stripe_app, localstripe
):
    env = prepare(registry=stripe_app.app.registry)
    try:
        [methods] = stripe_app.app.registry.hooks.mercato_payment_methods(request=env["request"])
    finally:
        env["closer"]()
    [card] = methods
    assert (card.code, card.provider, card.label) == ("stripe_card", "stripe", "Card")
    assert card.options["js_url"] == localstripe.js_url
    assert card.options["publishable_key"].startswith("pk_")


def test_mercato_authorize_payment_holds_the_money_with_manual_capture(
    hooks, stripe_app, localstripe
):
    result = authorize(hooks, stripe_app, localstripe)

    assert result.status == "authorized" and result.amount == Money(5000, "EUR")
    [pi] = payment_intents(localstripe)
    assert pi.id == result.reference
    assert pi.capture_method == "manual" and pi.status == "requires_capture"
    assert pi.metadata.mercato_key == "mercato:c0ffee:1:authorize"
    assert pi.metadata.mercato_order == "M-000042"

    other_method = hooks.mercato_authorize_payment(
        order=an_order(), method="cash", details={}, idempotency_key="k"
    )
    assert other_method is None, "only the plugin that owns the method answers"
    refused = hooks.mercato_authorize_payment(
        order=an_order(), method="stripe_card", details={"payment_method": "x"}, idempotency_key="k"
    )
    assert refused.status == "failed" and refused.message == "Please enter your card details."


def test_mercato_capture_payment_takes_the_money_once_however_often_asked(
    hooks, stripe_app, localstripe
):
    payment = info(authorize(hooks, stripe_app, localstripe))
    key = "mercato:c0ffee:1:capture"

    first = hooks.mercato_capture_payment(
        payment=payment, amount=Money(5000, "EUR"), idempotency_key=key
    )
    again = hooks.mercato_capture_payment(
        payment=payment, amount=Money(5000, "EUR"), idempotency_key=key
    )

    assert first.status == again.status == "captured"
    assert first.amount == Money(5000, "EUR")
    [pi] = payment_intents(localstripe)
    assert pi.status == "succeeded"
    foreign = hooks.mercato_capture_payment(
        payment=PaymentInfo(1, "c", 1, "paypal", "pp", "x", "authorized", 1, "EUR"),
        amount=Money(1, "EUR"),
        idempotency_key=key,
    )
    assert foreign is None


def test_mercato_void_payment_cancels_even_when_the_reference_was_lost(
    hooks, stripe_app, localstripe
):
    authorized = authorize(hooks, stripe_app, localstripe)
    # The kernel never heard back from Stripe (a timeout): it knows no reference.
    lost = info(None)

    first = hooks.mercato_void_payment(payment=lost, idempotency_key="mercato:c0ffee:1:void")
    again = hooks.mercato_void_payment(
        payment=info(authorized), idempotency_key="mercato:c0ffee:1:void"
    )

    assert first.status == "voided" and first.reference == authorized.reference
    assert again.status == "voided"
    [pi] = payment_intents(localstripe)
    assert pi.status == "canceled"
    nothing = hooks.mercato_void_payment(payment=info(None, attempt=2), idempotency_key="k")
    assert nothing.status == "voided" and nothing.reference is None


def test_mercato_refund_payment_returns_part_of_a_capture(hooks, stripe_app, localstripe):
    payment = info(authorize(hooks, stripe_app, localstripe))
    hooks.mercato_capture_payment(payment=payment, amount=Money(5000, "EUR"), idempotency_key="c")

    result = hooks.mercato_refund_payment(
        payment=payment, amount=Money(1250, "EUR"), idempotency_key="mercato:refund:1"
    )

    assert result.status == "refunded" and result.amount == Money(1250, "EUR")
    assert result.reference.startswith("re_")
    refunds = localstripe.client().v1.refunds.list(params={"payment_intent": payment.reference})
    assert [r.amount for r in refunds.data] == [1250]
