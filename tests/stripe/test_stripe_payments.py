"""payments_stripe against localstripe through the real SDK: 3-D Secure, capture on
fulfilment, refunds, and Stripe being unreachable."""

import json
import re
import urllib.request

import pytest

from mercato import Money, OrderError, fulfil_order, refund_order
from mercato.orders import models as m
from mercato_payments_stripe.embedded import PUBLISHABLE_KEY
from tests.checkout import shop_plugin
from tests.checkout.shopping import (
    CARD_3DS,
    SHOP_PLUGIN,
    Shopper,
    orders,
    outbox_count,
    payment_intents,
    payments,
    stock,
)


@pytest.fixture
def mercato_plugins():
    return ["payments_stripe", "tests.checkout.shop_plugin"]


@pytest.fixture
def kettle(shop_items):
    shop_items("KETTLE", "Copper kettle", 3000, 3)
    return "KETTLE"


def authenticate_in_browser(localstripe, page_text: str, success: bool = True) -> str:
    """What localstripe's Stripe.js does in the 3-D Secure modal; returns the return URL."""
    secret = re.search(r'data-client-secret="([^"]+)"', page_text).group(1)
    return_url = re.search(r'data-return-url="([^"]+)"', page_text).group(1).replace("&amp;", "&")
    pi = secret.split("_secret_")[0]
    request = urllib.request.Request(
        f"{localstripe.url}/v1/payment_intents/{pi}/_authenticate?success={str(success).lower()}",
        data=json.dumps({"key": PUBLISHABLE_KEY, "client_secret": secret}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        response.read()
    return return_url


def test_3d_secure_order_waits_then_the_return_page_finishes_it(
    shopper, kettle, dbsession, localstripe
):
    shopper.add(kettle, 1)
    shopper.address()

    page = shopper.pay(CARD_3DS, status=200)

    assert "Confirm your payment" in page.text
    assert f'src="{localstripe.js_url}"' in page.text, "Stripe.js comes from the setting"
    [order] = orders(dbsession)
    assert order.status == m.AWAITING_PAYMENT
    assert stock(dbsession, kettle) == 2, "the items are set aside while the bank confirms"
    assert shopper.cart() == {kettle: 1}, "the cart stays until the payment is confirmed"
    assert outbox_count(dbsession) == 0

    return_url = authenticate_in_browser(localstripe, page.text)
    landing = shopper.app.get(return_url, status=303)

    assert landing.location.endswith(f"/checkout/done/{order.access_token}")
    [order] = orders(dbsession)
    assert order.status == m.PAID
    assert shopper.cart() == {}
    assert outbox_count(dbsession) == 1
    [pi] = payment_intents(localstripe)
    assert pi.status == "succeeded"

    # The same return page again (a reload) changes nothing.
    shopper.app.get(return_url, status=303)
    assert [c.new_status for c in orders(dbsession)[0].history] == [
        m.AWAITING_PAYMENT,
        m.AUTHORIZED,
        m.PAID,
    ]


def test_3d_secure_refused_cancels_the_order_and_keeps_the_cart(
    shopper, kettle, dbsession, localstripe
):
    shopper.add(kettle, 2)
    shopper.address()
    page = shopper.pay(CARD_3DS, status=200)

    return_url = authenticate_in_browser(localstripe, page.text, success=False)
    landing = shopper.app.get(return_url, status=303)

    assert landing.location.endswith("/checkout/payment")
    [order] = orders(dbsession)
    assert order.status == m.CANCELLED
    assert stock(dbsession, kettle) == 3, "the items are back on the shelf"
    assert shopper.cart() == {kettle: 2}
    assert "could not confirm this payment" in shopper.app.get(landing.location).text
    [pi] = payment_intents(localstripe)
    assert pi.status == "canceled"

    # A second try with a good card is a new order.
    shopper.pay(status=303)
    assert [o.status for o in orders(dbsession)] == [m.CANCELLED, m.PAID]


def test_return_page_needs_the_client_secret(shopper, kettle, dbsession, localstripe):
    shopper.add(kettle, 1)
    shopper.address()
    page = shopper.pay(CARD_3DS, status=200)
    return_url = authenticate_in_browser(localstripe, page.text)

    forged = re.sub(
        r"payment_intent_client_secret=[^&]+", "payment_intent_client_secret=x", return_url
    )
    shopper.app.get(forged, status=404)

    assert orders(dbsession)[0].status == m.AWAITING_PAYMENT


def test_capture_on_fulfilment_then_partial_refunds_never_exceed_the_capture(
    make_test_app, stripe_settings, kettle, dbsession, localstripe
):
    shop = make_test_app(
        plugins=["payments_stripe", SHOP_PLUGIN],
        **stripe_settings,
        **{"mercato.capture": "fulfilment"},
    )
    Shopper(shop, localstripe).checkout(kettle, 2)
    [order] = orders(dbsession)
    assert order.status == m.AUTHORIZED, "the money is held until the order ships"
    [pi] = payment_intents(localstripe)
    assert pi.status == "requires_capture"

    registry = shop.app.registry
    fulfil_order(registry, dbsession, order, actor="staff:1")
    dbsession.commit()
    assert order.status == m.FULFILLED and order.amount_captured == 6000
    assert payment_intents(localstripe)[0].status == "succeeded"

    refund_order(registry, dbsession, order, Money(2500, "EUR"), actor="staff:1", reason="dent")
    dbsession.commit()
    assert order.status == m.PARTIALLY_REFUNDED and order.amount_refunded == 2500

    with pytest.raises(OrderError, match="only €35.00 .* left to refund"):
        refund_order(registry, dbsession, order, Money(3501, "EUR"), actor="staff:1")
    dbsession.rollback()

    refund_order(registry, dbsession, order, Money(3500, "EUR"), actor="staff:1", reason="lost")
    dbsession.commit()
    assert order.status == m.REFUNDED and order.amount_refunded == 6000
    refunds = localstripe.client().v1.refunds.list(params={"payment_intent": pi.id})
    assert sorted(r.amount for r in refunds.data) == [2500, 3500]
    [payment] = payments(dbsession)
    assert payment.amount_refunded == 6000


@pytest.fixture
def unreachable_settings(stripe_settings):
    # A port where nothing listens: Stripe is down.
    return {**stripe_settings, "mercato.payments_stripe.api_base": "http://127.0.0.1:9"}


def test_stripe_unreachable_is_a_clear_message_and_nothing_is_kept(
    make_test_app, unreachable_settings, shop_items, localstripe, dbsession
):
    shop_items("KETTLE", "Copper kettle", 3000, 3)
    app = make_test_app(plugins=["payments_stripe", SHOP_PLUGIN], **unreachable_settings)
    shopper = Shopper(app, localstripe)
    shopper.add("KETTLE", 1)
    shopper.address()

    page = shopper.pay(status=503)

    assert "could not reach the payment service" in page.text
    assert "Nothing was charged" in page.text
    assert orders(dbsession) == []
    assert stock(dbsession, "KETTLE") == 3
    assert shopper.cart() == {"KETTLE": 1}
    assert payment_intents(localstripe) == []
    assert shop_plugin.EVENTS["reserve_attempts"] == 0, "no row was locked for a dead Stripe"


def test_reconcile_cancels_an_order_left_waiting_for_3d_secure(
    shop, shopper, kettle, dbsession, localstripe
):
    from mercato.orders.reconcile import reconcile

    shopper.add(kettle, 2)
    shopper.address()
    shopper.pay(CARD_3DS, status=200)  # and the shopper closes the tab
    [order] = orders(dbsession)

    first = reconcile(shop.app.registry, grace=0, action_timeout=0)
    second = reconcile(shop.app.registry, grace=0, action_timeout=0)

    assert first.cancelled == [order.number] and first.failed == []
    assert second.as_dict() == {
        "voided_payments": [],
        "captured_orders": [],
        "marked_paid_orders": [],
        "cancelled_orders": [],
        "finished_refunds": [],
        "applied_refunds": [],
        "failures": [],
    }
    [order] = orders(dbsession)
    assert order.status == m.CANCELLED
    assert stock(dbsession, kettle) == 3
    assert payment_intents(localstripe)[0].status == "canceled"
    assert [p.status for p in payments(dbsession)] == [m.PAYMENT_VOIDED]


def test_a_card_tokenized_by_localstripes_stripe_js_pays(shopper, kettle, dbsession, localstripe):
    """What stripe-checkout.js sends when Stripe.js has no createPaymentMethod (the
    demo's stand-in): the card of a token made with the publishable key."""
    fields = "&".join(
        f"card[{k}]={v}"
        for k, v in {
            "number": "4242424242424242",
            "exp_month": "12",
            "exp_year": "2030",
            "cvc": "123",
        }.items()
    )
    request = urllib.request.Request(
        f"{localstripe.url}/v1/tokens",
        data=f"{fields}&key={PUBLISHABLE_KEY}".encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        token = json.loads(response.read())
    shopper.add(kettle, 1)
    shopper.address()

    shopper.pay(payment_method=token["card"]["id"])

    [order] = orders(dbsession)
    assert order.status == m.PAID
