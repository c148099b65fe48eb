"""Staff find orders and act on them: capture, cancel (voids, restocks), ship with a
tracking number, refund all or part — through the real payment plugin against
localstripe, each action recorded with who did it."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mercato.orders import models as m
from mercato.testing import csrf_token, login

from .conftest import add_order, audit_entries, form_token, order, outbox_messages, stock

FULFILMENT = {"mercato.capture": "fulfilment"}


def payment_intent(localstripe, number_order: m.Order):
    reference = number_order.payments[-1].reference
    return localstripe.client().v1.payment_intents.retrieve(reference)


def act(browser, number: str, action: str, status=303, **fields):
    page = browser.get(f"/admin/orders/{number}")
    return browser.post(
        f"/admin/orders/{number}/{action}",
        {"csrf_token": form_token(page), **fields},
        status=status,
    )


@pytest.fixture
def mug(products):
    return products("MUG", price=1250, stock=10, name="Blue mug")


# ---------------------------------------------------------------------------
# Finding orders
# ---------------------------------------------------------------------------


def numbers_on(page) -> list[str]:
    return [a.text for a in page.html.select("main tbody td:first-child a")]


def test_orders_are_filtered_by_status_date_customer_and_search(staff, db_engine, customer_user):
    now = datetime.now(UTC)
    add_order(db_engine, "M-000001", status=m.PAID, created_at=now - timedelta(days=10))
    add_order(db_engine, "M-000002", status=m.CANCELLED, email="bob@example.com")
    add_order(
        db_engine,
        "M-000003",
        status=m.FULFILLED,
        email=customer_user.email,
        customer_id=customer_user.id,
        created_at=now - timedelta(days=2),
    )

    assert numbers_on(staff.get("/admin/orders")) == ["M-000002", "M-000003", "M-000001"]
    assert numbers_on(staff.get("/admin/orders", {"status": "cancelled"})) == ["M-000002"]
    assert numbers_on(staff.get("/admin/orders", {"q": "BOB@"})) == ["M-000002"]
    assert numbers_on(staff.get("/admin/orders", {"q": "000003"})) == ["M-000003"]
    week_ago = (now - timedelta(days=7)).date().isoformat()
    three_days_ago = (now - timedelta(days=3)).date().isoformat()
    assert numbers_on(staff.get("/admin/orders", {"date_from": week_ago})) == [
        "M-000002",
        "M-000003",
    ]
    assert numbers_on(staff.get("/admin/orders", {"date_to": three_days_ago})) == ["M-000001"]
    of_customer = staff.get("/admin/orders", {"customer": customer_user.id})
    assert numbers_on(of_customer) == ["M-000003"]
    assert customer_user.email in of_customer.html.select_one(".page-head").text


def test_orders_come_in_pages_that_keep_the_filters(staff, db_engine):
    start = datetime.now(UTC) - timedelta(hours=1)
    for n in range(1, 28):
        add_order(db_engine, f"M-{n:06d}", created_at=start + timedelta(minutes=n))

    first = staff.get("/admin/orders", {"status": "paid"})
    assert len(numbers_on(first)) == 25 and numbers_on(first)[0] == "M-000027"
    assert "Page 1 of 2" in first.text
    second = first.click(linkid=None, href="page=2")
    assert numbers_on(second) == ["M-000002", "M-000001"]
    assert "status=paid" in second.request.url


def test_bad_filters_are_refused_with_the_reason(staff):
    page = staff.get(
        "/admin/orders", {"status": "lost", "date_from": "yesterday", "page": "0"}, status=400
    )
    errors = {p["id"]: p.text for p in page.html.select(".field-error[id]")}
    assert errors["status-error"] == "Choose a status from the list."
    assert "Invalid date" in errors["date_from-error"]
    assert "Pages start at 1." in page.text
    backwards = staff.get(
        "/admin/orders", {"date_from": "2026-02-01", "date_to": "2026-01-01"}, status=400
    )
    assert "The end date is before the start date." in backwards.text


# ---------------------------------------------------------------------------
# The order page and its actions
# ---------------------------------------------------------------------------


def test_the_order_page_shows_lines_payments_and_timeline(checkout, mug, staff):
    number = checkout().buy(mug, 2)
    page = staff.get(f"/admin/orders/{number}")
    lines = page.html.select_one("#lines-title").find_parent("section").text
    assert "Blue mug" in lines and "MUG" in lines and "€25.00" in lines
    payments = page.html.select_one("#payments-title").find_parent("section").text
    assert "stripe_card" in payments and "captured" in payments and "pi_" in payments
    timeline = [li.get_text(" ", strip=True) for li in page.html.select(".timeline li")]
    assert timeline[0].startswith("Paid from Authorized")
    assert timeline[-1].startswith("Awaiting payment")
    assert page.html.select_one("#refund-form") is not None
    assert page.html.select_one("#cancel-form") is None, "a paid order is refunded, not cancelled"


def test_an_unknown_order_is_not_found(staff):
    staff.get("/admin/orders/M-999999", status=404)


def test_staff_capture_an_authorized_order(
    checkout, mug, staff, staff_user, dbsession, localstripe
):
    number = checkout(**FULFILMENT).buy(mug)
    assert order(dbsession, number).status == m.AUTHORIZED

    done = act(staff, number, "capture").follow()

    assert f"Payment of order {number} captured." in done.text
    captured = order(dbsession, number)
    assert (captured.status, captured.amount_captured) == (m.PAID, 1250)
    assert captured.history[-1].actor == f"staff:{staff_user.id}"
    assert payment_intent(localstripe, captured).status == "succeeded"
    [entry] = audit_entries(dbsession)
    assert (entry.actor_email, entry.action, entry.object_id) == (
        staff_user.email,
        "order.capture",
        number,
    )
    assert entry.summary == "Captured €12.50"


def test_staff_cancel_an_unpaid_order_which_voids_and_restocks(
    checkout, mug, staff, staff_user, dbsession, localstripe
):
    number = checkout(**FULFILMENT).buy(mug, 3)
    assert stock(dbsession, mug) == 7

    done = act(staff, number, "cancel", reason="customer changed their mind").follow()

    assert "the payment was voided and the items are back in stock" in done.text
    cancelled = order(dbsession, number)
    assert cancelled.status == m.CANCELLED
    assert cancelled.history[-1].reason == "customer changed their mind"
    assert cancelled.history[-1].actor == f"staff:{staff_user.id}"
    assert stock(dbsession, mug) == 10
    assert cancelled.lines[0].quantity_restocked == 3
    assert payment_intent(localstripe, cancelled).status == "canceled"
    assert audit_entries(dbsession)[-1].action == "order.cancel"


def test_a_paid_order_cannot_be_cancelled(checkout, mug, staff, dbsession):
    number = checkout().buy(mug)
    refused = act(staff, number, "cancel", status=409)
    assert "only unpaid orders can be cancelled; refund a paid order instead" in refused.text
    assert order(dbsession, number).status == m.PAID
    assert audit_entries(dbsession) == []


def test_staff_mark_an_order_shipped_with_its_tracking_number(
    checkout, mug, staff, staff_user, dbsession
):
    number = checkout().buy(mug)

    done = act(
        staff,
        number,
        "fulfil",
        tracking_number="1Z999AA10123456784",
        tracking_url="https://track.example/1Z999AA10123456784",
    ).follow()

    assert f"Order {number} marked as shipped." in done.text
    shipped = order(dbsession, number)
    assert shipped.status == m.FULFILLED
    assert shipped.history[-1].reason == "shipped, tracking 1Z999AA10123456784"
    assert shipped.history[-1].actor == f"staff:{staff_user.id}"
    [email] = outbox_messages(dbsession, "order.shipped")
    assert email["tracking_url"] == "https://track.example/1Z999AA10123456784"
    assert (email["email"], email["number"]) == ("ada@example.com", number)
    assert audit_entries(dbsession)[-1].summary == "Marked shipped, tracking 1Z999AA10123456784"
    assert "1Z999AA10123456784" in done.html.select_one(".timeline").text


def test_a_tracking_link_must_be_a_web_address(checkout, mug, staff, dbsession):
    number = checkout().buy(mug)
    refused = act(staff, number, "fulfil", tracking_url="javascript:alert(1)", status=400)
    assert refused.html.select_one("#tracking_url-error").text == (
        "Give the full address, starting with https://."
    )
    assert order(dbsession, number).status == m.PAID


def test_capture_on_fulfilment_ships_and_takes_the_money_at_once(checkout, mug, staff, dbsession):
    number = checkout(**FULFILMENT).buy(mug)
    act(staff, number, "fulfil", tracking_number="TRACK-1")
    shipped = order(dbsession, number)
    assert (shipped.status, shipped.amount_captured) == (m.FULFILLED, 1250)


def test_staff_refund_part_then_the_rest(checkout, mug, staff, staff_user, dbsession, localstripe):
    number = checkout().buy(mug, 2)

    first = act(staff, number, "refund", amount="5.00", reason="chipped").follow()
    assert f"€5.00 refunded for order {number}." in first.text
    partly = order(dbsession, number)
    assert (partly.status, partly.amount_refunded) == (m.PARTIALLY_REFUNDED, 500)
    assert partly.history[-1].actor == f"staff:{staff_user.id}"
    assert "€20.00 of €25.00 captured can still be refunded." in first.text

    act(staff, number, "refund", amount="20", **{"restock-1": "2"})
    refunded = order(dbsession, number)
    assert (refunded.status, refunded.amount_refunded) == (m.REFUNDED, 2500)
    assert stock(dbsession, mug) == 10, "restocked on request"
    assert refunded.lines[0].quantity_restocked == 2
    refunds = localstripe.client().v1.refunds.list(
        params={"payment_intent": refunded.payments[-1].reference}
    )
    assert sorted(r.amount for r in refunds.data) == [500, 2000]
    assert [e["amount"]["amount"] for e in outbox_messages(dbsession, "order.refunded")] == [
        500,
        2000,
    ]
    summaries = [e.summary for e in audit_entries(dbsession)]
    assert summaries == ["Refunded €5.00 (chipped)", "Refunded €20.00, back in stock: 2 × MUG"]


def test_the_refund_form_asks_how_many_of_each_line_go_back_in_stock(
    checkout, mug, staff, dbsession
):
    number = checkout().buy(mug, 3)
    act(staff, number, "refund", amount="12.50", **{"restock-1": "1"})
    assert stock(dbsession, mug) == 8

    page = staff.get(f"/admin/orders/{number}")
    field = page.html.select_one("#refund-form input[name=restock-1]")
    assert field["type"] == "number"
    assert page.html.select_one("label[for=refund-restock-1]").text == "Back in stock"
    assert field.find_parent("fieldset").legend.text == "Blue mug (MUG) · 3 sold"
    assert field.find_next("p", class_="hint").text == "2 of 3 can go back."


def test_putting_back_more_than_is_left_is_refused_next_to_the_line(
    checkout, mug, staff, dbsession, localstripe
):
    number = checkout().buy(mug, 2)
    act(staff, number, "refund", amount="12.50", **{"restock-1": "1"})

    refused = act(staff, number, "refund", amount="12.50", status=400, **{"restock-1": "2"})

    assert refused.html.select_one("#refund-restock-1-error").text == (
        f"Only 1 × MUG of order {number} can go back in stock."
    )
    assert refused.html.select_one("#refund-restock-1")["value"] == "2", "the form is kept"
    kept = order(dbsession, number)
    assert (kept.status, kept.amount_refunded) == (m.PARTIALLY_REFUNDED, 1250)
    assert dbsession.scalars(select(m.Refund.amount)).all() == [1250], "nothing written"
    refunds = localstripe.client().v1.refunds.list(
        params={"payment_intent": kept.payments[-1].reference}
    )
    assert [r.amount for r in refunds.data] == [1250], "nothing refunded"
    assert stock(dbsession, mug) == 9
    assert kept.lines[0].quantity_restocked == 1


@pytest.mark.parametrize(
    ("units", "message"), [("two", '"two" is not a number'), ("-1", "Put back 0 or more.")]
)
def test_a_stock_quantity_that_is_not_a_count_is_refused(
    checkout, mug, staff, dbsession, units, message
):
    number = checkout().buy(mug)
    refused = act(staff, number, "refund", amount="12.50", status=400, **{"restock-1": units})
    assert refused.html.select_one("#refund-restock-1-error").text == message
    assert order(dbsession, number).amount_refunded == 0
    assert stock(dbsession, mug) == 9


def test_a_refund_over_the_captured_amount_is_refused_clearly(checkout, mug, staff, dbsession):
    number = checkout().buy(mug, 2)
    act(staff, number, "refund", amount="10.00")

    refused = act(staff, number, "refund", amount="15.01", status=409)

    assert refused.html.select_one("#refund-form [role=alert]").text == (
        f"Cannot refund €15.01: only €15.00 of order {number} is left to refund."
    )
    kept = order(dbsession, number)
    assert (kept.status, kept.amount_refunded) == (m.PARTIALLY_REFUNDED, 1000)
    assert dbsession.scalars(select(m.Refund.amount)).all() == [1000]
    assert [e.action for e in audit_entries(dbsession)] == ["order.refund"]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("ten euros", "Write the amount in EUR, such as 12.50."),
        ("1.005", "Write the amount in EUR, such as 12.50."),
        ("", "Enter the amount to refund, such as 12.50, or choose what to refund."),
    ],
)
def test_a_refund_amount_that_is_not_money_is_refused(
    checkout, mug, staff, dbsession, amount, message
):
    number = checkout().buy(mug)
    refused = act(staff, number, "refund", amount=amount, status=400)
    assert refused.html.select_one("#refund-amount-error").text == message
    assert order(dbsession, number).amount_refunded == 0


def test_a_zero_refund_is_refused(checkout, mug, staff, dbsession):
    number = checkout().buy(mug)
    refused = act(staff, number, "refund", amount="0", status=409)
    assert "A refund must be more than zero." in refused.text


def test_staff_actions_through_the_json_api_are_audited_too(
    checkout, mug, staff, staff_user, dbsession
):
    number = checkout().buy(mug)
    staff.post_json(
        f"/api/staff/orders/{number}/fulfilment", {}, headers={"X-CSRF-Token": csrf_token(staff)}
    )
    [entry] = audit_entries(dbsession)
    assert (entry.actor_id, entry.action, entry.object_id) == (
        staff_user.id,
        "api_order_fulfilment",
        f"number={number}",
    )
    assert entry.summary == f"POST /api/staff/orders/{number}/fulfilment"


def test_customers_cannot_act_on_orders(checkout, mug, shop, customer_user, dbsession):
    number = checkout().buy(mug)
    login(shop, customer_user.email)
    shop.post(
        f"/admin/orders/{number}/refund",
        {"csrf_token": csrf_token(shop), "amount": "12.50"},
        status=403,
    )
    assert order(dbsession, number).amount_refunded == 0
