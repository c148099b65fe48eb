"""The checkout unit through the storefront: PostgreSQL, Redis and Stripe (localstripe,
through the real SDK) commit or abort together."""

import threading
import time

import pytest
import webtest

from mercato import ConfigurationError
from mercato.orders import checkout as co
from mercato.orders import models as m

from . import shop_plugin
from .shopping import (
    CARD_DECLINED,
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
def lamp(shop_items):
    shop_items("LAMP-1", "Brass lamp", 4500, 5)
    return "LAMP-1"


def test_happy_path_order_is_paid_stock_taken_cart_emptied_one_email(
    shopper, lamp, dbsession, localstripe
):
    shopper.add(lamp, 2)
    shopper.address()

    response = shopper.pay()

    [order] = orders(dbsession)
    assert response.location.endswith(f"/checkout/done/{order.access_token}")
    assert order.status == m.PAID
    assert order.total_amount == 9000 and order.amount_captured == 9000
    assert [
        (line.sku, line.name, line.quantity, line.unit_price_amount) for line in order.lines
    ] == [("LAMP-1", "Brass lamp", 2, 4500)]
    assert [(c.old_status, c.new_status) for c in order.history] == [
        (None, m.AWAITING_PAYMENT),
        (m.AWAITING_PAYMENT, m.AUTHORIZED),
        (m.AUTHORIZED, m.PAID),
    ]
    assert stock(dbsession, lamp) == 3
    assert shopper.cart() == {}
    assert outbox_count(dbsession) == 1
    [payment] = payments(dbsession)
    assert payment.status == m.PAYMENT_CAPTURED and payment.order_id == order.id
    [pi] = payment_intents(localstripe)
    assert pi.id == payment.reference and pi.status == "succeeded" and pi.amount == 9000
    page = shopper.app.get(response.location)
    assert "Thank you for your order" in page.text and order.number in page.text


def test_declined_card_keeps_no_order_and_leaves_stock_and_cart(shopper, lamp, dbsession):
    shopper.add(lamp, 1)
    shopper.address()

    response = shopper.pay(CARD_DECLINED, status=402)

    assert "Your card was declined" in response.text
    assert orders(dbsession) == []
    assert stock(dbsession, lamp) == 5
    assert shopper.cart() == {lamp: 1}
    assert outbox_count(dbsession) == 0
    assert [p.status for p in payments(dbsession)] == [m.PAYMENT_FAILED]

    # Another card then goes through, as one new order.
    shopper.pay(status=303)
    [order] = orders(dbsession)
    assert order.status == m.PAID
    assert stock(dbsession, lamp) == 4


def test_out_of_stock_after_authorization_voids_it_and_keeps_nothing(
    shopper, lamp, dbsession, localstripe
):
    shopper.add(lamp, 2)
    shopper.address()
    shop_plugin.FAULTS["sold_elsewhere"] = lamp

    response = shopper.pay(status=409)

    assert "Brass lamp is sold out" in response.text
    assert orders(dbsession) == []
    assert shopper.cart() == {lamp: 2}
    assert outbox_count(dbsession) == 0
    [pi] = payment_intents(localstripe)
    assert pi.status == "canceled", "the authorization is voided at Stripe"
    [payment] = payments(dbsession)
    assert payment.status == m.PAYMENT_VOIDED and payment.order_id is None


def test_exception_after_authorization_cancels_the_payment_intent(
    shopper, lamp, dbsession, localstripe
):
    shopper.add(lamp, 1)
    shopper.address()
    shop_plugin.FAULTS["explode_after_reserve"] = True

    shopper.pay(status=500)

    assert orders(dbsession) == []
    assert stock(dbsession, lamp) == 5, "the reservation rolled back with the order"
    assert shopper.cart() == {lamp: 1}
    [pi] = payment_intents(localstripe)
    assert pi.status == "canceled"
    assert outbox_count(dbsession) == 0


def test_serialization_failure_is_retried_with_the_same_payment_intent(
    shopper, lamp, dbsession, localstripe
):
    shopper.add(lamp, 1)
    shopper.address()
    shop_plugin.FAULTS["serialization_failures"] = 1

    shopper.pay(status=303)

    assert shop_plugin.EVENTS["reserve_attempts"] == 2, "pyramid_retry ran the checkout twice"
    [order] = orders(dbsession)
    assert order.status == m.PAID
    [pi] = payment_intents(localstripe)
    assert pi.status == "succeeded", "one PaymentIntent, reused by the retry, then captured"
    [payment] = payments(dbsession)
    assert payment.reference == pi.id and payment.status == m.PAYMENT_CAPTURED
    assert stock(dbsession, lamp) == 4
    assert outbox_count(dbsession) == 1


def test_mercato_order_placed_and_mercato_order_status_changed_follow_the_order(shopper, lamp):
    shopper.checkout(lamp)

    [number] = shop_plugin.EVENTS["placed"]
    assert shop_plugin.EVENTS["status"] == [
        (number, None, m.AWAITING_PAYMENT),
        (number, m.AWAITING_PAYMENT, m.AUTHORIZED),
        (number, m.AUTHORIZED, m.PAID),
    ]


def test_mercato_cart_checked_out_is_called_only_after_a_commit(shopper, lamp):
    shopper.add(lamp)
    shopper.address()
    shopper.pay(CARD_DECLINED, status=402)
    assert shop_plugin.EVENTS["checked_out"] == []

    shopper.pay()

    assert shop_plugin.EVENTS["checked_out"] == shop_plugin.EVENTS["placed"][-1:]


def test_a_second_submit_is_refused_while_the_first_runs_longer_than_its_lock(
    shopper, lamp, dbsession, redis_client, monkeypatch
):
    # The lock of a submit that runs on is kept alive past LOCK_MS, however long it runs.
    monkeypatch.setattr(co, "LOCK_MS", 1000)
    monkeypatch.setattr(co, "LOCK_RENEW_S", 0.2)
    shop_plugin.FAULTS["slow_reserve"] = 2.0
    shopper.add(lamp)
    shopper.address()
    form = {"method": "stripe_card", "details.payment_method": shopper.card()}
    form["csrf_token"] = shopper.token
    second_tab = webtest.TestApp(
        shopper.app.app, cookiejar=shopper.app.cookiejar, extra_environ=shopper.app.extra_environ
    )
    first = {}
    running = threading.Thread(
        target=lambda: first.update(response=shopper.app.post("/checkout/payment", form))
    )
    running.start()
    while not shop_plugin.EVENTS["reserve_attempts"]:
        time.sleep(0.01)
    time.sleep(1.3)

    refused = second_tab.post("/checkout/payment", form, status=409)
    running.join()

    assert "already being placed" in refused.text
    assert first["response"].status_int == 303
    [order] = orders(dbsession)
    assert order.status == m.PAID
    assert redis_client.keys("checkout:*") == [], "released once the submit finished"


def test_mercato_reserve_stock_refusal_names_the_item_and_mercato_stock_level_warns_first(
    shopper, lamp, dbsession, localstripe
):
    shopper.add(lamp, 6)
    shopper.address()

    review = shopper.app.get("/checkout/review")
    refused = shopper.pay(status=409)

    assert "only 5 of Brass lamp left (you asked for 6)" in review.text
    assert "only 5 of Brass lamp left" in refused.text
    assert payment_intents(localstripe) == [], "no card is authorized for a cart that cannot ship"
    assert shop_plugin.EVENTS["reserve_attempts"] == 0


def test_a_capture_setting_the_checkout_unit_does_not_know_stops_the_app(make_test_app):
    with pytest.raises(
        ConfigurationError,
        match="mercato.capture = 'later' is not valid: expected checkout or fulfilment",
    ):
        make_test_app(**{"mercato.capture": "later"})
