"""The customer's side of returns: a guest through the order's secret link, a customer
from their account, within the return window and for shipped units only; anything
else is refused with a 4xx in plain words and nothing is kept."""

import pytest

from mercato.testing import PASSWORD

from .conftest import (
    age_shipments,
    ask,
    body_of,
    emails,
    guest_page,
    returns_of,
    ship,
    the_order,
)


def test_a_guest_returns_a_line_through_the_order_link(
    guest_with_shipped_order, demo_shop, dbsession
):
    guest, order = guest_with_shipped_order
    page = guest.app.get(guest_page(order))
    form = page.forms["return-form"]
    assert form.action == f"/orders/{order.access_token}/returns"
    assert page.html.select_one("input[name='quantity.TEE']")["max"] == "2"
    assert page.html.select_one("input[name='quantity.MUG']")["max"] == "1"

    done = ask(guest, guest_page(order), {"TEE": 1}, details="The sleeves are short.")

    assert done.location.endswith(guest_page(order))
    shown = done.follow()
    assert "your return #" in shown.text
    [ret] = returns_of(dbsession)
    assert (ret.status, ret.units(), ret.reason) == ("requested", {"TEE": 1}, "Too small")
    assert ret.details == "The sleeves are short."
    section = shown.html.select_one(f"#return-{ret.id}")
    assert "Requested: we will answer soon" in section.text
    assert "1 × Organic Tee" in section.text
    # What is left to return: one tee, the mug.
    assert shown.html.select_one("input[name='quantity.TEE']")["max"] == "1"

    subjects = emails(demo_shop.smtp, 2)  # the order's confirmation, then the return's
    assert subjects[1] == f"Return #{ret.id} of order {order.number} requested — Test Shop"
    message = demo_shop.smtp.messages[1]
    assert message["To"] == order.email
    assert "1 x Organic Tee (TEE)" in body_of(message)
    assert f"/orders/{order.access_token}\r\n" in body_of(message), "the order's link"


def test_a_double_submit_of_the_form_asks_once(guest_with_shipped_order, dbsession):
    guest, order = guest_with_shipped_order
    form = guest.app.get(guest_page(order)).forms["return-form"]
    form["quantity.TEE"] = "1"

    form.submit(status=303)
    form.submit(status=303)  # the same nonce: the first return is found again

    assert [r.units() for r in returns_of(dbsession)] == [{"TEE": 1}]


def test_a_customer_returns_from_their_account(demo_shop, make_user, dbsession):
    customer = make_user("carla@example.com", "customer", name="Carla")
    shopper = demo_shop.browser()
    shopper.log_in(customer.email, PASSWORD)
    shopper.buy({"MUG": 1}, email=customer.email)
    order = the_order(dbsession)
    assert order.customer_id is not None
    ship(demo_shop, dbsession, order)

    page_url = f"/account/orders/{order.number}"
    form = shopper.app.get(page_url).forms["return-form"]
    assert form.action == f"/account/orders/{order.number}/returns"
    done = ask(shopper, page_url, {"MUG": 1}, reason="Arrived damaged")

    assert done.location.endswith(page_url)
    [ret] = returns_of(dbsession)
    assert (ret.status, ret.units(), ret.reason) == ("requested", {"MUG": 1}, "Arrived damaged")
    assert "Requested: we will answer soon" in done.follow().text


def test_another_customers_order_is_not_found(demo_shop, make_user, dbsession):
    owner = make_user("owner@example.com", "customer")
    other = make_user("other@example.com", "customer")
    buyer = demo_shop.browser()
    buyer.log_in(owner.email, PASSWORD)
    buyer.buy({"MUG": 1}, email=owner.email)
    order = the_order(dbsession)
    ship(demo_shop, dbsession, order)
    stranger = demo_shop.browser()
    stranger.log_in(other.email, PASSWORD)
    token = stranger.token

    stranger.app.get(f"/account/orders/{order.number}/returns", status=404)
    stranger.app.post(
        f"/account/orders/{order.number}/returns",
        {"csrf_token": token, "quantity.MUG": "1", "reason": "Too small"},
        status=404,
    )
    # A token that is not the order's, and the JSON API with it.
    stranger.app.post(
        f"/orders/{'x' * 43}/returns",
        {"csrf_token": token, "quantity.MUG": "1", "reason": "Too small"},
        status=404,
    )
    stranger.app.post_json(
        f"/api/orders/{'x' * 43}/returns",
        {"lines": [{"sku": "MUG", "quantity": 1}], "reason": "Too small"},
        headers={"X-CSRF-Token": token},
        status=404,
    )
    # Without the session's CSRF token, even the owner's link changes nothing.
    stranger.app.post(
        f"/orders/{order.access_token}/returns",
        {"quantity.MUG": "1", "reason": "Too small"},
        status=400,
    )
    assert returns_of(dbsession) == []


def test_nothing_shipped_means_no_form_and_a_refused_post(demo_shopper, dbsession):
    demo_shopper.buy({"TEE": 1})
    order = the_order(dbsession)

    page = demo_shopper.app.get(guest_page(order))
    assert "return-form" not in page.forms
    refused = demo_shopper.app.post(
        f"/orders/{order.access_token}/returns",
        {"csrf_token": demo_shopper.token, "quantity.TEE": "1", "reason": "Too small"},
        status=409,
    )
    assert f"Nothing of order {order.number} has shipped yet" in refused.text
    assert returns_of(dbsession) == []


def test_the_return_window_closes_thirty_days_after_shipping(guest_with_shipped_order, dbsession):
    guest, order = guest_with_shipped_order
    age_shipments(dbsession, order, 29)
    assert "return-form" in guest.app.get(guest_page(order)).forms
    form = guest.app.get(guest_page(order)).forms["return-form"]
    age_shipments(dbsession, order, 31)

    page = guest.app.get(guest_page(order))
    assert "return-form" not in page.forms
    assert "30-day return window" in page.html.select_one("#return-closed").text
    # A form opened while the window was open, sent once it closed.
    form["quantity.TEE"] = "1"
    refused = form.submit(status=409)
    assert f"The 30-day return window of order {order.number} closed on" in refused.text
    assert returns_of(dbsession) == []


def test_no_more_than_shipped_can_be_returned(demo_shop, demo_shopper, dbsession):
    demo_shopper.buy({"TEE": 2, "MUG": 1})
    order = the_order(dbsession)
    ship(demo_shop, dbsession, order, {"TEE": 1})  # one tee shipped; a tee and the mug not
    page = demo_shopper.app.get(guest_page(order))
    assert page.html.select_one("input[name='quantity.TEE']")["max"] == "1"
    assert page.html.select_one("input[name='quantity.MUG']") is None
    url = f"/orders/{order.access_token}/returns"

    def post(**quantities):
        fields = {f"quantity.{sku}": str(n) for sku, n in quantities.items()}
        return demo_shopper.app.post(
            url, {"csrf_token": demo_shopper.token, "reason": "Too small", **fields}, status="*"
        )

    too_many = post(TEE=2)
    assert too_many.status_int == 400
    assert f"You can return at most 1 × Organic Tee of order {order.number}." in too_many.text
    unshipped = post(MUG=1)
    assert unshipped.status_int == 400
    assert f"Blue Mug of order {order.number} cannot be returned" in unshipped.text
    assert post(TEE=1).status_int == 303
    # The shipped tee is in a return already: nothing more can be asked.
    again = post(TEE=1)
    assert again.status_int == 409
    assert "already returned or refunded" in again.text
    assert [r.units() for r in returns_of(dbsession)] == [{"TEE": 1}]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantity.TEE": "-1"}, "Write a whole number of items"),
        ({"quantity.TEE": "99999999999999"}, "Write a whole number of items"),
        ({"quantity.TEE": "1.5"}, "Write a whole number of items"),
        ({"quantity.TEE": "0"}, "Choose how many of which items"),
        ({"quantity.PEN": "1"}, "has no item PEN"),
        ({"quantity.TEE": "1", "reason": "I just want money"}, "Choose a reason from the list."),
        ({"quantity.TEE": "1", "details": "x" * 10_000}, "at most 1000 characters"),
        ({"quantity.TEE": "1", "details": "bad\x01byte"}, "characters we cannot keep"),
        ({"quantity.TEE": "1", "request_key": "<script>" * 20}, "This form has expired"),
    ],
)
def test_hostile_input_is_refused_with_a_message(
    guest_with_shipped_order, dbsession, fields, message
):
    guest, order = guest_with_shipped_order
    sent = {"csrf_token": guest.token, "reason": "Too small", **fields}

    refused = guest.app.post(f"/orders/{order.access_token}/returns", sent, status=400)

    assert message in refused.text
    assert returns_of(dbsession) == []


def test_a_nul_byte_is_refused(guest_with_shipped_order, dbsession):
    guest, order = guest_with_shipped_order
    sent = {"csrf_token": guest.token, "reason": "Too small", "quantity.TEE": "1"}

    guest.app.post(
        f"/orders/{order.access_token}/returns", {**sent, "details": "a\x00b"}, status=400
    )
    assert returns_of(dbsession) == []


@pytest.mark.parametrize(
    "body",
    [
        {"lines": "TEE", "reason": "Too small"},
        {"lines": [{"sku": "TEE", "quantity": -1}], "reason": "Too small"},
        {"lines": [{"sku": "TEE", "quantity": True}], "reason": "Too small"},
        {"lines": [{"sku": "TEE", "quantity": 10**30}], "reason": "Too small"},
        {"lines": [{"sku": "TEE", "quantity": 1}, {"sku": "TEE", "quantity": 1}], "reason": "x"},
        {"lines": [{"sku": "TEE", "quantity": 1}], "reason": "Too small", "details": 5},
        [1, 2, 3],
    ],
)
def test_the_json_api_refuses_hostile_bodies(guest_with_shipped_order, dbsession, body):
    guest, order = guest_with_shipped_order

    refused = guest.app.post_json(
        f"/api/orders/{order.access_token}/returns",
        body,
        headers={"X-CSRF-Token": guest.token},
        status=400,
    )

    assert refused.json["error"]["status"] == 400
    assert refused.json["error"]["message"]
    assert returns_of(dbsession) == []


def test_a_guest_asks_through_the_json_api_once_per_idempotency_key(
    guest_with_shipped_order, dbsession
):
    guest, order = guest_with_shipped_order
    url = f"/api/orders/{order.access_token}/returns"
    listed = guest.app.get(url).json
    assert listed["returnable"] == [
        {"sku": "TEE", "name": "Organic Tee", "quantity": 2},
        {"sku": "MUG", "name": "Blue Mug", "quantity": 1},
    ]
    body = {"lines": [{"sku": "MUG", "quantity": 1}], "reason": "Changed my mind"}
    headers = {"X-CSRF-Token": guest.token, "Idempotency-Key": "retry-me-1"}

    first = guest.app.post_json(url, body, headers=headers, status=201).json["return"]
    again = guest.app.post_json(url, body, headers=headers, status=200).json["return"]

    assert first["id"] == again["id"]
    assert (first["status"], first["lines"][0]["quantity"]) == ("requested", 1)
    assert [r.units() for r in returns_of(dbsession)] == [{"MUG": 1}]
    assert guest.app.get(url).json["returnable"] == [
        {"sku": "TEE", "name": "Organic Tee", "quantity": 2}
    ]


def test_the_shop_sets_its_window_and_reasons(make_demo_shop, dbsession):
    shop = make_demo_shop(
        **{"mercato.returns.window_days": "7", "mercato.returns.reasons": "Too tight\nFaded"}
    )
    guest = shop.browser()
    guest.buy({"TEE": 1})
    order = the_order(dbsession)
    ship(shop, dbsession, order)

    form = guest.app.get(guest_page(order)).forms["return-form"]
    assert [value for value, _, _ in form["reason"].options] == ["Too tight", "Faded"]
    age_shipments(dbsession, order, 8)
    form["quantity.TEE"] = "1"
    refused = form.submit(status=409)
    assert f"The 7-day return window of order {order.number} closed on" in refused.text
