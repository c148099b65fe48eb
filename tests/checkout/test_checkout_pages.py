"""The checkout's steps and JSON API, order pages, history and the staff API."""

import json
import urllib.request

import pytest
from sqlalchemy import select

from mercato.orders import models as m
from mercato.outbox import OutboxMessage
from mercato.testing import csrf_token, login
from mercato_payments_stripe.embedded import PUBLISHABLE_KEY

from .shopping import (
    ADDRESS,
    CARD_3DS,
    CARD_DECLINED,
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
def books(shop_items):
    shop_items("BOOK-1", "Notebook", 800, 2)
    shop_items("PEN-1", "Fountain pen", 2200, 10)


def test_address_step_says_what_is_wrong_next_to_each_field_and_keeps_values(shopper, books):
    shopper.add("BOOK-1")
    page = shopper.app.post(
        "/checkout/address",
        {**ADDRESS, "email": "not-an-email", "country": "France", "csrf_token": shopper.token},
        status=400,
    )
    assert "Enter an email address like a@b.com." in page.text
    assert "Choose a country from the list." in page.text
    assert 'value="12 Analytical Street"' in page.text, "what was typed is kept"
    assert 'aria-invalid="true"' in page.text


def test_steps_show_server_side_totals_and_the_payment_methods(shopper, books, localstripe):
    shopper.add("BOOK-1", 2)
    shopper.add("PEN-1", 1)
    shopper.address()

    review = shopper.app.get("/checkout/review")
    payment = shopper.app.get("/checkout/payment")

    assert "€38.00" in review.text and "Notebook" in review.text
    assert "Pay €38.00" in payment.text
    assert 'name="method" value="stripe_card"' in payment.text
    assert localstripe.js_url in payment.text
    assert "<script>" not in payment.text, "no inline script (CSP)"


def test_a_total_changed_since_the_payment_page_is_not_charged(
    shopper, books, dbsession, db_engine, localstripe
):
    from sqlalchemy import text

    shopper.add("BOOK-1")
    shopper.address()
    page = shopper.app.get("/checkout/payment")
    form = page.forms["payment-form"]
    assert form["expected_total"].value == "800"
    with db_engine.begin() as conn:  # the price goes up while the shopper types the card
        conn.execute(text("UPDATE test_shop_items SET price = 950 WHERE sku = 'BOOK-1'"))
    form["method"] = "stripe_card"
    form["details.payment_method"] = shopper.card()
    refused = form.submit(status=409)

    assert "The total changed from €8.00 to €9.50 since you saw it." in refused.text
    assert 'name="expected_total" value="950"' in refused.text, "the page shows the new total"
    assert orders(dbsession) == [] and payment_intents(localstripe) == []
    assert stock(dbsession, "BOOK-1") == 2

    again = refused.forms["payment-form"]
    again["method"] = "stripe_card"
    again["details.payment_method"] = shopper.card()
    again.submit(status=303)
    [order] = orders(dbsession)
    assert order.total_amount == 950


def test_double_submit_gives_the_same_order_and_one_payment(shopper, books, dbsession, localstripe):
    shopper.add("BOOK-1")
    shopper.address()
    card = shopper.card()
    token = shopper.token
    form = {"method": "stripe_card", "details.payment_method": card, "csrf_token": token}

    first = shopper.app.post("/checkout/payment", form, status=303)
    # The second click of an impatient shopper, with the form as it was.
    shopper.app.post("/checkout/payment", form, status=409)

    [order] = orders(dbsession)
    assert first.location.endswith(order.access_token)
    assert len(payment_intents(localstripe)) == 1
    assert stock(dbsession, "BOOK-1") == 1


def test_json_checkout_places_an_order_and_explains_refusals(shop, books, dbsession, localstripe):
    shopper = Shopper(shop, localstripe)
    headers = {"X-CSRF-Token": csrf_token(shop)}
    shopper.add("BOOK-1", 3)
    shop.put_json(
        "/api/checkout/address",
        {
            "email": "bob@example.com",
            "shipping_address": {k: v for k, v in ADDRESS.items() if k != "email"},
        },
        headers=headers,
    )

    summary = shop.get("/api/checkout").json
    assert summary["total"] == {"amount": 2400, "currency": "EUR"}
    assert summary["problems"] == ["Sorry, only 2 of Notebook left (you asked for 3)."]
    assert summary["payment_methods"][0]["code"] == "stripe_card"

    refused = shop.post_json(
        "/api/checkout/orders",
        {"method": "stripe_card", "details": {"payment_method": shopper.card()}},
        headers=headers,
        status=409,
    )
    assert "only 2 of Notebook left" in refused.json["error"]["message"]
    assert payment_intents(localstripe) == [], "no authorization for a cart that cannot ship"

    shopper.add("BOOK-1", -1)
    declined = shop.post_json(
        "/api/checkout/orders",
        {"method": "stripe_card", "details": {"payment_method": shopper.card(CARD_DECLINED)}},
        headers=headers,
        status=402,
    )
    assert declined.json["error"]["message"].startswith("Your card was declined")

    placed = shop.post_json(
        "/api/checkout/orders",
        {"method": "stripe_card", "details": {"payment_method": shopper.card()}},
        headers=headers,
        status=201,
    ).json["order"]
    assert placed["total"] == {"amount": 1600, "currency": "EUR"}
    assert placed["email"] == "bob@example.com"
    link = placed["url"].split("localhost", 1)[1]
    assert shop.get("/api" + link).json["order"]["status"] == m.PAID
    assert shopper.cart() == {}


def test_guest_order_page_needs_its_secret_link(
    shopper, books, dbsession, make_test_app, shop_settings
):
    shopper.checkout("PEN-1")
    [order] = orders(dbsession)

    page = shopper.app.get(f"/orders/{order.access_token}")
    assert order.number in page.text and "Fountain pen" in page.text

    stranger = make_test_app(plugins=["payments_stripe", SHOP_PLUGIN], **shop_settings)
    stranger.get(f"/orders/{order.access_token}x", status=404)
    stranger.get(f"/account/orders/{order.number}", status=303)  # to the login page


def test_customer_sees_their_history_and_not_another_customers_order(
    shopper, books, dbsession, customer_user, make_user
):
    login(shopper.app, customer_user.email)
    shopper.checkout("PEN-1")
    [order] = orders(dbsession)
    assert order.customer_id == customer_user.id

    history = shopper.app.get("/account/orders")
    assert order.number in history.text
    assert shopper.app.get("/api/account/orders").json["orders"][0]["number"] == order.number

    other = make_user("other@example.com")
    shopper.app.post("/logout", {"csrf_token": shopper.token}, status="*")
    login(shopper.app, other.email)
    shopper.app.get(f"/account/orders/{order.number}", status=404)
    assert shopper.app.get("/api/account/orders").json["orders"] == []


def test_staff_refund_api_refuses_more_than_was_captured(
    shopper, books, dbsession, staff_user, customer_user, make_test_app, shop_settings
):
    shopper.checkout("PEN-1", 2)
    [order] = orders(dbsession)
    staff = make_test_app(plugins=["payments_stripe", SHOP_PLUGIN], **shop_settings)
    login(staff, staff_user.email)
    headers = {"X-CSRF-Token": csrf_token(staff)}
    url = f"/api/staff/orders/{order.number}/refunds"

    too_much = staff.post_json(url, {"amount": "44.01"}, headers=headers, status=409)
    assert "only €44.00" in too_much.json["error"]["message"]

    done = staff.post_json(url, {"amount": "44.00", "reason": "broken"}, headers=headers)
    assert done.json["order"]["status"] == m.REFUNDED
    assert staff.post_json(url, {"amount": "0.01"}, headers=headers, status=409)
    [payment] = payments(dbsession)
    assert payment.amount_refunded == 4400
    assert outbox_count(dbsession, "order.refunded") == 1, "the customer is told"

    # A guest is asked to log in; a customer is refused.
    shopper.app.post_json(url, {"amount": "1"}, headers={"X-CSRF-Token": shopper.token}, status=401)
    login(shopper.app, customer_user.email)
    shopper.app.post_json(url, {"amount": "1"}, headers={"X-CSRF-Token": shopper.token}, status=403)


def test_staff_fulfil_api_ships_the_order_and_tells_the_customer(
    shopper, books, dbsession, staff_user, make_test_app, shop_settings
):
    shopper.checkout("BOOK-1")
    [order] = orders(dbsession)
    staff = make_test_app(plugins=["payments_stripe", SHOP_PLUGIN], **shop_settings)
    login(staff, staff_user.email)
    headers = {"X-CSRF-Token": csrf_token(staff)}

    done = staff.post_json(f"/api/staff/orders/{order.number}/fulfilment", {}, headers=headers)

    assert done.json["order"]["status"] == m.FULFILLED
    assert outbox_count(dbsession, "order.shipped") == 1


def test_a_headless_shop_checks_out_through_the_json_api_and_has_no_checkout_pages(
    make_test_app, shop_settings, books, dbsession, localstripe
):
    shop = make_test_app(plugins=["payments_stripe", SHOP_PLUGIN, "no:storefront"], **shop_settings)
    shopper = Shopper(shop, localstripe)
    headers = {"X-CSRF-Token": csrf_token(shop)}
    for page in ("/checkout", "/checkout/address", "/checkout/payment", "/account/orders"):
        shop.get(page, status=404)

    shopper.add("BOOK-1")
    shop.put_json(
        "/api/checkout/address",
        {
            "email": "bob@example.com",
            "shipping_address": {k: v for k, v in ADDRESS.items() if k != "email"},
        },
        headers=headers,
    )
    placed = shop.post_json(
        "/api/checkout/orders",
        {"method": "stripe_card", "details": {"payment_method": shopper.card()}},
        headers=headers,
        status=201,
    ).json["order"]

    # The links the kernel hands out lead to the JSON order, not to a missing page.
    [order] = orders(dbsession)
    [email] = dbsession.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.event == "order.placed")
    ).all()
    for url in (placed["url"], email["order_url"]):
        assert url.endswith(f"/api/orders/{order.access_token}")
        assert shop.get(url.split("localhost", 1)[1]).json["order"]["status"] == m.PAID
    shop.get(f"/checkout/done/{order.access_token}", status=404)
    assert shopper.cart() == {}, "the cart is emptied after the commit, pages or not"


def json_3d_secure(shop, localstripe, passes: bool) -> dict:
    """A book ordered through the JSON API with a card that needs 3-D Secure, then what
    Stripe.js does when the shopper passes (or fails) their bank's check; returns the
    order's ``action`` (payment intent and client secret)."""
    shopper = Shopper(shop, localstripe)
    headers = {"X-CSRF-Token": csrf_token(shop)}
    shopper.add("BOOK-1")
    shop.put_json(
        "/api/checkout/address",
        {"email": "bob@example.com", "shipping_address": {**ADDRESS, "email": None}},
        headers=headers,
    )
    waiting = shop.post_json(
        "/api/checkout/orders",
        {"method": "stripe_card", "details": {"payment_method": shopper.card(CARD_3DS)}},
        headers=headers,
        status=202,
    ).json["action"]
    urllib.request.urlopen(  # noqa: S310 (localstripe on loopback)
        urllib.request.Request(
            f"{localstripe.url}/v1/payment_intents/{waiting['payment_intent']}"
            f"/_authenticate?success={'true' if passes else 'false'}",
            data=json.dumps(
                {"key": PUBLISHABLE_KEY, "client_secret": waiting["client_secret"]}
            ).encode(),
            method="POST",
        ),
        timeout=5,
    ).read()
    return waiting


def test_a_headless_shops_refused_3d_secure_returns_to_the_json_checkout(
    make_test_app, shop_settings, books, dbsession, localstripe
):
    shop = make_test_app(plugins=["payments_stripe", SHOP_PLUGIN, "no:storefront"], **shop_settings)
    waiting = json_3d_secure(shop, localstripe, passes=False)
    secret = waiting["client_secret"]

    landing = shop.get(
        "/stripe/return",
        {"payment_intent": waiting["payment_intent"], "payment_intent_client_secret": secret},
        status=303,
    )

    assert landing.location.endswith("/api/checkout")
    assert [o.status for o in orders(dbsession)] == [m.CANCELLED]


@pytest.mark.parametrize("passes", [True, False], ids=["authenticated", "refused"])
def test_a_shop_without_pages_or_json_api_sends_the_shopper_home_after_3d_secure(
    make_test_app, shop_settings, books, dbsession, localstripe, passes
):
    # The order is placed through the JSON API of one app; the shopper's bank sends them
    # back to another app of the same shop that has neither (a shop whose own plugin
    # checks out): the links the kernel hands out fall back to the home page.
    headless = make_test_app(
        plugins=["payments_stripe", SHOP_PLUGIN, "no:storefront"], **shop_settings
    )
    bare = make_test_app(
        plugins=["payments_stripe", SHOP_PLUGIN, "no:storefront", "no:api"], **shop_settings
    )
    bare.get("/api/checkout", status=404)
    waiting = json_3d_secure(headless, localstripe, passes=passes)
    secret = waiting["client_secret"]

    landing = bare.get(
        "/stripe/return",
        {"payment_intent": waiting["payment_intent"], "payment_intent_client_secret": secret},
        status=303,
    )

    assert landing.location == "http://localhost/"
    assert [o.status for o in orders(dbsession)] == [m.PAID if passes else m.CANCELLED]


@pytest.mark.parametrize("passes", [True, False], ids=["authenticated", "refused"])
def test_an_app_comes_back_from_3d_secure_through_the_json_api(
    make_test_app, shop_settings, books, dbsession, localstripe, passes
):
    shop = make_test_app(plugins=["payments_stripe", SHOP_PLUGIN, "no:storefront"], **shop_settings)
    waiting = json_3d_secure(shop, localstripe, passes=passes)
    back = {"payment_intent": waiting["payment_intent"], "client_secret": "pi_x_secret_wrong"}
    wrong = shop.post_json("/api/stripe/return", back, status=404)
    assert wrong.json["error"]["status"] == 404
    assert [o.status for o in orders(dbsession)] == [m.AWAITING_PAYMENT], "nothing applied"
    for body in ([], {"payment_intent": "../etc", "client_secret": "x"}):
        refused = shop.post_json("/api/stripe/return", body, status=400)
        assert (
            "not valid" in refused.json["error"]["message"]
            or "JSON" in refused.json["error"]["message"]
        )

    answer = shop.post_json(
        "/api/stripe/return", {**back, "client_secret": waiting["client_secret"]}
    ).json

    dbsession.expire_all()
    [order] = orders(dbsession)
    assert answer["url"] == f"http://localhost/api/orders/{order.access_token}"
    if passes:
        # Authorized when answered; captured right after the commit.
        assert answer["status"] in (m.AUTHORIZED, m.PAID) and order.status == m.PAID
        assert shop.get(answer["url"]).json["order"]["status"] == m.PAID
    else:
        assert answer["status"] == order.status == m.CANCELLED
        assert "did not confirm" in answer["message"]
