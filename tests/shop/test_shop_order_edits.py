"""Order changes that lower or raise the amount before shipping (issue 18), in the shop
as ``mercato demo`` composes it, with localstripe through the real SDK.

- Units taken off an order that is only authorized go back in stock, and the capture
  takes only what is owed (read back from localstripe); with nothing left the
  authorization is voided.
- Units added are priced and reserved as at checkout; the difference is a balance the
  customer pays through their order page (a second payment), and the order does not
  ship before.

After every step: captured − refunded = what the lines owe, once settled.

The order: an Organic Tee (€24.00) and 2 Blue Mugs (€12.50), shipped to France for
€9.90, French VAT included in every price: €58.90.
"""

import threading
import time

import pytest
import requests
from sqlalchemy import select

from mercato import amount_owed, balance_due
from mercato.orders import models as m
from mercato_admin.models import AuditEntry
from tests.checkout.shopping import card_payment_method

from .conftest import CARD_3DS, all_orders, stock_of

STOCK = 10


@pytest.fixture
def shop(make_demo_shop):
    """The composed shop capturing on fulfilment: orders stay authorized until shipped."""
    return make_demo_shop(**{"mercato.capture": "fulfilment"})


@pytest.fixture
def paid_shop(make_demo_shop):
    return make_demo_shop()


def the_order(dbsession) -> m.Order:
    [placed] = all_orders(dbsession)
    return placed


def assert_settled(order: m.Order) -> None:
    kept = order.amount_captured - order.amount_refunded
    assert kept == amount_owed(order).amount, f"keeps {kept}, owes {amount_owed(order)}"


def place(shop, dbsession, status: str):
    shopper = shop.browser()
    shopper.buy({"TEE": 1, "MUG": 2})
    order = the_order(dbsession)
    assert (order.status, order.total_amount) == (status, 5890)
    return shopper, order


def staff_of(shop, admin_user):
    staff = shop.browser()
    staff.log_in(admin_user.email, admin_user.password)
    return staff


def change(staff, order, status=200, key=None, **body):
    headers = {"X-CSRF-Token": staff.token}
    if key:
        headers["Idempotency-Key"] = key
    return staff.app.post_json(
        f"/api/staff/orders/{order.number}/changes", body, headers=headers, status=status
    )


def intent(shop, order, index=0):
    reference = order.payments[index].reference
    return shop.localstripe.client().v1.payment_intents.retrieve(reference)


def captured_in_stripe(shop, order, index=0) -> int:
    """What Stripe took for the order's payment ``index``: its charge less what the
    capture left (localstripe releases the rest of a partial capture as a refund)."""
    client = shop.localstripe.client()
    reference = order.payments[index].reference
    charges = client.v1.charges.list(params={"limit": 100}).auto_paging_iter()
    [charge] = [charge for charge in charges if charge.payment_intent == reference]
    return charge.amount - charge.amount_refunded if charge.captured else 0


def changed_emails(smtp_server, order, count: int = 1) -> list:
    """The ``order.changed`` emails the customer received (waiting for ``count``)."""
    subject = f"Your order {order.number} changed"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [m_ for m_ in smtp_server.messages if subject in m_["Subject"]]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return found


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def audit(dbsession) -> list[str]:
    dbsession.expire_all()
    return [e.action for e in dbsession.scalars(select(AuditEntry).order_by(AuditEntry.id))]


# ---------------------------------------------------------------------------
# Lowering an authorized order: stock back, the capture takes what is owed
# ---------------------------------------------------------------------------


def test_a_mug_taken_off_an_authorized_order_is_back_in_stock_and_never_captured(
    shop, admin_user, dbsession
):
    shopper, order = place(shop, dbsession, m.AUTHORIZED)
    staff = staff_of(shop, admin_user)

    answer = change(staff, order, remove=[{"sku": "MUG", "quantity": 1}], reason="chipped")

    assert answer.json["change"]["difference"] == {"amount": -1250, "currency": "EUR"}
    assert answer.json["owed"]["amount"] == 4640
    assert answer.json["balance_due"]["amount"] == 0
    order = the_order(dbsession)
    mug = next(line for line in order.lines if line.sku == "MUG")
    assert (mug.quantity_cancelled, mug.quantity_released, mug.quantity_refunded) == (1, 1, 0)
    assert stock_of(dbsession, "MUG") == STOCK - 1
    assert order.status == m.AUTHORIZED
    assert any("1 × MUG taken off: chipped" in h.reason for h in order.history)

    staff.app.post_json(
        f"/api/staff/orders/{order.number}/fulfilment", {}, headers={"X-CSRF-Token": staff.token}
    )

    order = the_order(dbsession)
    assert intent(shop, order).status == "succeeded"
    assert captured_in_stripe(shop, order) == 4640, "a partial capture"
    assert (order.status, order.amount_captured) == (m.FULFILLED, 4640)
    assert_settled(order)
    page = shopper.app.get(f"/orders/{order.access_token}")
    assert "1 cancelled · 1 not charged" in page.text
    assert audit(dbsession) == ["api_order_changes", "api_order_fulfilment"]


def test_every_line_taken_off_an_authorized_order_voids_it_and_cancels_the_order(
    shop, admin_user, dbsession
):
    _, order = place(shop, dbsession, m.AUTHORIZED)
    staff = staff_of(shop, admin_user)

    change(staff, order, remove=[{"sku": "MUG", "quantity": 2}, {"sku": "TEE", "quantity": 1}])

    order = the_order(dbsession)
    assert order.status == m.CANCELLED
    assert intent(shop, order).status == "canceled"
    assert (stock_of(dbsession, "MUG"), stock_of(dbsession, "TEE")) == (STOCK, STOCK)
    assert all(line.quantity_restocked == line.quantity for line in order.lines)


# ---------------------------------------------------------------------------
# Raising a paid order: a balance, paid through the order's link
# ---------------------------------------------------------------------------


def test_a_mug_taken_off_a_paid_order_is_refunded_and_told_in_one_email(
    paid_shop, admin_user, dbsession, smtp_server
):
    _, order = place(paid_shop, dbsession, m.PAID)

    change(staff_of(paid_shop, admin_user), order, remove=[{"sku": "MUG", "quantity": 1}])

    order = the_order(dbsession)
    assert order.amount_refunded == 1250 and stock_of(dbsession, "MUG") == STOCK - 1
    [email] = changed_emails(smtp_server, order)
    assert "1 × MUG taken off" in body_of(email)
    assert "We have refunded €12.50 for it" in body_of(email)
    time.sleep(1)  # the outbox delivers after the commit: give a second email its chance
    subjects = [message["Subject"] for message in smtp_server.messages]
    assert not [s for s in subjects if s.startswith(f"Refund for order {order.number}")]


def test_a_mug_added_to_a_paid_order_is_a_balance_the_customer_pays_before_it_ships(
    paid_shop, admin_user, dbsession, smtp_server
):
    shopper, order = place(paid_shop, dbsession, m.PAID)
    staff = staff_of(paid_shop, admin_user)

    answer = change(staff, order, add=[{"sku": "MUG", "quantity": 1}], key="add-1")
    again = change(staff, order, add=[{"sku": "MUG", "quantity": 1}], key="add-1")

    assert answer.json["balance_due"] == {"amount": 1250, "currency": "EUR"}
    assert again.json["change"]["id"] == answer.json["change"]["id"], "a retry adds once"
    order = the_order(dbsession)
    assert stock_of(dbsession, "MUG") == STOCK - 3
    added = order.lines[-1]
    assert (added.sku, added.quantity, added.added, added.unit_price_amount) == (
        "MUG",
        1,
        True,
        1250,
    )
    assert (order.total_amount, balance_due(order).amount) == (7140, 1250)
    [email] = changed_emails(smtp_server, order)
    assert "€12.50 is left to pay" in body_of(email)
    assert f"/checkout/done/{order.access_token}" in body_of(email), "the link to pay it"
    refused = staff.app.post_json(
        f"/api/staff/orders/{order.number}/fulfilment",
        {},
        headers={"X-CSRF-Token": staff.token},
        status=409,
    )
    assert "€12.50 left to pay" in refused.json["error"]["message"]

    # The customer's order page offers to pay it; they pay through the JSON API.
    page = shopper.app.get(f"/orders/{order.access_token}")
    assert "€12.50 left to pay" in page.text
    card = card_payment_method(paid_shop.localstripe.client())
    paid = shopper.app.post_json(
        f"/api/orders/{order.access_token}/balance-payments",
        {"method": "stripe_card", "details": {"payment_method": card}},
        headers={"X-CSRF-Token": shopper.token},
        status=201,
    )

    assert paid.json["payment"]["amount"]["amount"] == 1250
    order = the_order(dbsession)
    assert [p.status for p in order.payments] == [m.PAYMENT_CAPTURED, m.PAYMENT_CAPTURED]
    assert captured_in_stripe(paid_shop, order, 1) == 1250
    assert (order.amount_captured, balance_due(order).amount) == (7140, 0)
    assert_settled(order)
    page = shopper.app.get(f"/orders/{order.access_token}")
    history = [li.text.split(" — ")[1] for li in page.html.select("#history + ol li")]
    assert history == ["Waiting for payment", "Payment authorized", "Paid"], "each status once"
    staff.app.post_json(
        f"/api/staff/orders/{order.number}/fulfilment", {}, headers={"X-CSRF-Token": staff.token}
    )
    assert the_order(dbsession).status == m.FULFILLED


def test_a_balance_paid_with_3d_secure_on_the_order_page_is_captured_after_authentication(
    paid_shop, admin_user, dbsession
):
    shopper, order = place(paid_shop, dbsession, m.PAID)
    change(staff_of(paid_shop, admin_user), order, add=[{"sku": "TEE", "quantity": 1}])

    page = shopper.app.post(
        f"/orders/{order.access_token}/balance",
        {
            "method": "stripe_card",
            "details.payment_method": card_payment_method(paid_shop.localstripe.client(), CARD_3DS),
            "csrf_token": shopper.token,
        },
    )
    assert "data-client-secret" in page.text
    shopper.authenticate(page.text)

    order = the_order(dbsession)
    assert order.payments[1].status == m.PAYMENT_CAPTURED
    assert (order.amount_captured, balance_due(order).amount) == (5890 + 2400, 0)
    assert_settled(order)


def test_a_balance_whose_3d_secure_fails_leaves_the_order_authorized_and_the_balance_due(
    shop, admin_user, dbsession
):
    shopper, order = place(shop, dbsession, m.AUTHORIZED)
    change(staff_of(shop, admin_user), order, add=[{"sku": "TEE", "quantity": 1}])
    card = card_payment_method(shop.localstripe.client(), CARD_3DS)
    page = shopper.app.post(
        f"/orders/{order.access_token}/balance",
        {"method": "stripe_card", "details.payment_method": card, "csrf_token": shopper.token},
    )

    shopper.authenticate(page.text, success=False)

    order = the_order(dbsession)
    assert order.status == m.AUTHORIZED, "a failed balance payment never cancels the order"
    assert [p.status for p in order.payments] == [m.PAYMENT_AUTHORIZED, m.PAYMENT_VOIDED]
    assert intent(shop, order, 0).status == "requires_capture", "the order's money still held"
    assert balance_due(order).amount == 2400
    assert stock_of(dbsession, "TEE") == STOCK - 2
    assert "€24.00 left to pay" in shopper.app.get(f"/orders/{order.access_token}").text


def test_the_same_change_sent_twice_at_once_over_http_adds_once(paid_shop, admin_user, dbsession):
    _, order = place(paid_shop, dbsession, m.PAID)
    staff = staff_of(paid_shop, admin_user)
    url = f"{paid_shop.url}/api/staff/orders/{order.number}/changes"
    start, answers = threading.Barrier(2), []

    def post():
        browser = requests.Session()
        browser.cookies.update(dict(staff.app.cookies))
        start.wait()
        answer = browser.post(
            url,
            json={"add": [{"sku": "MUG", "quantity": 1}]},
            headers={"X-CSRF-Token": staff.token, "Idempotency-Key": "erp-42"},
            timeout=60,
        )
        answers.append((answer.status_code, answer.json()["change"]["id"]))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [status for status, _ in answers] == [200, 200]
    assert len({change_id for _, change_id in answers}) == 1
    order = the_order(dbsession)
    assert [line.sku for line in order.lines if line.added] == ["MUG"]
    assert stock_of(dbsession, "MUG") == STOCK - 3
    assert balance_due(order).amount == 1250


def test_a_balance_paid_twice_at_once_over_http_is_charged_once(paid_shop, admin_user, dbsession):
    shopper, order = place(paid_shop, dbsession, m.PAID)
    change(staff_of(paid_shop, admin_user), order, add=[{"sku": "MUG", "quantity": 1}])
    client = paid_shop.localstripe.client()
    cards = [card_payment_method(client) for _ in range(2)]
    url = f"{paid_shop.url}/api/orders/{order.access_token}/balance-payments"
    start, answers = threading.Barrier(2), []

    def pay(card):
        browser = requests.Session()
        browser.cookies.update(dict(shopper.app.cookies))
        start.wait()
        answer = browser.post(
            url,
            json={"method": "stripe_card", "details": {"payment_method": card}},
            headers={"X-CSRF-Token": shopper.token},
            timeout=60,
        )
        answers.append(answer.status_code)

    threads = [threading.Thread(target=pay, args=(card,)) for card in cards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(answers)[0] == 201 and sorted(answers)[1] in (409,)
    order = the_order(dbsession)
    captured = [p for p in order.payments if p.status == m.PAYMENT_CAPTURED]
    assert [p.amount_captured for p in captured] == [5890, 1250]
    assert order.amount_captured == 7140
    assert_settled(order)


def test_taking_off_the_unpaid_mug_clears_the_balance_and_refunds_nothing(
    paid_shop, admin_user, dbsession
):
    _, order = place(paid_shop, dbsession, m.PAID)
    staff = staff_of(paid_shop, admin_user)
    change(staff, order, add=[{"sku": "MUG", "quantity": 1}])

    answer = change(staff, the_order(dbsession), remove=[{"sku": "MUG", "quantity": 1}])

    order = the_order(dbsession)
    assert answer.json["balance_due"]["amount"] == 0
    assert answer.json["change"]["refund_id"] is None
    assert order.amount_refunded == 0
    assert stock_of(dbsession, "MUG") == STOCK - 2
    assert_settled(order)


def test_a_goodwill_refund_is_never_asked_back_in_a_balance(paid_shop, admin_user, dbsession):
    _, order = place(paid_shop, dbsession, m.PAID)
    staff = staff_of(paid_shop, admin_user)
    staff.app.post_json(
        f"/api/staff/orders/{order.number}/refunds",
        {"amount": "5.00", "reason": "late delivery"},
        headers={"X-CSRF-Token": staff.token},
    )
    assert balance_due(the_order(dbsession)).amount == 0

    answer = change(staff, order, add=[{"sku": "MUG", "quantity": 1}])

    assert answer.json["balance_due"]["amount"] == 1250, "the mug, not the €5 given back"
    change(staff, order, remove=[{"sku": "MUG", "quantity": 1}])
    order = the_order(dbsession)
    assert (balance_due(order).amount, order.amount_refunded) == (0, 500)
    staff.app.post_json(
        f"/api/staff/orders/{order.number}/fulfilment", {}, headers={"X-CSRF-Token": staff.token}
    )
    assert the_order(dbsession).status == m.FULFILLED


# ---------------------------------------------------------------------------
# Bad input: a clear 4xx, nothing changed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"add": [{"sku": "NOPE", "quantity": 1}]}, 400, "sells no NOPE"),
        ({"add": [{"sku": "MUG", "quantity": 0}]}, 400, "at least 1"),
        ({"add": [{"sku": "MUG", "quantity": "2"}]}, 400, "whole number"),
        ({"add": [{"sku": "MUG", "quantity": 99}]}, 409, "left in stock"),
        ({"remove": [{"sku": "HAT", "quantity": 1}]}, 400, "has no HAT"),
        ({"remove": [{"sku": "MUG", "quantity": 3}]}, 400, "Only 2"),
        ({}, 400, "remove"),
    ],
)
def test_a_bad_change_is_a_clear_4xx_and_changes_nothing(
    paid_shop, admin_user, dbsession, body, status, says
):
    _, order = place(paid_shop, dbsession, m.PAID)
    staff = staff_of(paid_shop, admin_user)

    answer = change(staff, order, status=status, **body)

    assert says in answer.json["error"]["message"]
    order = the_order(dbsession)
    assert (len(order.lines), order.total_amount, order.amount_refunded) == (2, 5890, 0)
    assert (stock_of(dbsession, "MUG"), stock_of(dbsession, "TEE")) == (STOCK - 2, STOCK - 1)
    assert dbsession.scalars(select(m.OrderChange)).all() == []


def test_a_shipped_order_cannot_change(paid_shop, admin_user, dbsession):
    _, order = place(paid_shop, dbsession, m.PAID)
    staff = staff_of(paid_shop, admin_user)
    staff.app.post_json(
        f"/api/staff/orders/{order.number}/fulfilment", {}, headers={"X-CSRF-Token": staff.token}
    )

    answer = change(staff, order, status=409, add=[{"sku": "MUG", "quantity": 1}])

    assert "nothing shipped can change" in answer.json["error"]["message"]


# ---------------------------------------------------------------------------
# The admin's forms
# ---------------------------------------------------------------------------


def admin_form(staff, order, form: str, **fields) -> dict:
    page = staff.app.get(f"/admin/orders/{order.number}")
    hidden = page.html.select(f"#{form}-form input[type=hidden]")
    return {**{tag["name"]: tag["value"] for tag in hidden}, **fields}


def test_staff_take_a_mug_off_an_authorized_order_then_capture_only_what_is_owed(
    shop, admin_user, dbsession
):
    _, order = place(shop, dbsession, m.AUTHORIZED)
    staff = staff_of(shop, admin_user)
    mug = next(line for line in order.lines if line.sku == "MUG")
    fields = admin_form(staff, order, "cancel-lines", **{f"cancel-{mug.position}": "1"})

    done = staff.app.post(f"/admin/orders/{order.number}/cancel-lines", fields, status=303)

    assert "1 × MUG taken off; it now comes to €46.40." in done.follow().text
    page = staff.app.get(f"/admin/orders/{order.number}")
    assert page.html.select_one("#capture-form button").text == "Capture €46.40"
    released = page.html.select_one(f"#line-{mug.position} [data-count=released]")
    assert released.text == "1"
    page.forms["capture-form"].submit(status=303)
    order = the_order(dbsession)
    assert (order.status, order.amount_captured) == (m.PAID, 4640)
    assert captured_in_stripe(shop, order) == 4640
    assert_settled(order)
    assert audit(dbsession) == ["order.lines_removed", "order.capture"]


def test_staff_add_a_tee_in_the_admin_and_see_the_balance_due(paid_shop, admin_user, dbsession):
    _, order = place(paid_shop, dbsession, m.PAID)
    staff = staff_of(paid_shop, admin_user)
    fields = admin_form(staff, order, "add-lines", sku="TEE", quantity="2", reason="phone call")

    staff.app.post(f"/admin/orders/{order.number}/add-lines", fields, status=303)
    again = staff.app.post(f"/admin/orders/{order.number}/add-lines", fields, status=303)

    assert again.follow().status_int == 200
    order = the_order(dbsession)
    assert [(line.sku, line.quantity) for line in order.lines if line.added] == [("TEE", 2)]
    assert stock_of(dbsession, "TEE") == STOCK - 3, "the form posted twice adds once"
    page = staff.app.get(f"/admin/orders/{order.number}")
    assert "Balance due: €48.00" in page.html.select_one("#balance-due").text
    assert audit(dbsession) == ["order.lines_added"]
    refused = staff.app.post(
        f"/admin/orders/{order.number}/add-lines",
        admin_form(staff, order, "add-lines", sku="TEE", quantity="50"),
        status=409,
    )
    assert "left in stock: nothing was added" in refused.text
    unknown = staff.app.post(
        f"/admin/orders/{order.number}/add-lines",
        admin_form(staff, order, "add-lines", sku="NOPE", quantity="1"),
        status=400,
    )
    assert "The shop sells no NOPE" in unknown.text
