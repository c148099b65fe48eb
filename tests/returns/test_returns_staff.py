"""The staff's side of returns: approve or refuse, mark the parcel received (what can be
sold again goes back in stock, damaged goods do not) and refund what was charged for
what came back, once, through the real Stripe SDK against localstripe. Every step is
emailed to the customer, kept in the return's history and in the admin's audit log."""

import threading

import pytest
from sqlalchemy import text

from mercato import refund_amount_for

from .conftest import (
    STOCK,
    ask,
    body_of,
    emails,
    guest_page,
    return_subjects,
    returns_of,
    staff_step,
    stock_of,
    the_order,
)


def refunds_in_stripe(shop, order) -> list[int]:
    reference = order.payments[-1].reference
    refunds = shop.localstripe.client().v1.refunds.list(params={"payment_intent": reference})
    return sorted(refund.amount for refund in refunds.data)


def lines_of(order) -> dict[str, tuple[int, int]]:
    """``{sku: (quantity_refunded, quantity_restocked)}``."""
    return {line.sku: (line.quantity_refunded, line.quantity_restocked) for line in order.lines}


def audited(dbsession) -> list[str]:
    return dbsession.scalars(
        text("SELECT object_id FROM admin_audit_log WHERE action = 'returns_admin_action'")
    ).all()


def asked_return(guest, order, dbsession, quantities: dict):
    ask(guest, guest_page(order), quantities, reason="Arrived damaged")
    return returns_of(dbsession)[-1]


def test_a_return_is_approved_received_and_refunded(
    guest_with_shipped_order, demo_shop, demo_staff, dbsession
):
    guest, order = guest_with_shipped_order
    ret = asked_return(guest, order, dbsession, {"TEE": 2, "MUG": 1})
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK - 2, STOCK - 1)
    charged = refund_amount_for(the_order(dbsession), {"TEE": 2, "MUG": 1})
    assert charged.amount == 2 * 2400 + 1250  # the prices include the VAT

    approved = staff_step(demo_staff, order, ret.id, "approve", message="Send it to 1 Dock Rd.")
    assert "approved: the customer is asked to send the items back" in approved.follow().text
    # One tee came back torn: it is not put back in stock.
    staff_step(
        demo_staff,
        order,
        ret.id,
        "receive",
        **{"received.TEE": "2", "restock.TEE": "1", "received.MUG": "1", "restock.MUG": "1"},
    )
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK - 1, STOCK)
    page = staff_step(demo_staff, order, ret.id, "refund").follow()

    assert "€60.50 refunded for return" in page.text
    [ret] = returns_of(dbsession)
    assert (ret.status, ret.amount_refunded) == ("refunded", charged.amount)
    assert ret.units("quantity_received") == {"TEE": 2, "MUG": 1}
    assert ret.units("quantity_restocked") == {"TEE": 1, "MUG": 1}
    assert [event.status for event in ret.events] == [
        "requested",
        "approved",
        "received",
        "refunded",
    ]
    order = the_order(dbsession)
    assert refunds_in_stripe(demo_shop, order) == [charged.amount]
    assert (order.status, order.amount_refunded) == ("partially_refunded", charged.amount)
    assert lines_of(order) == {"TEE": (2, 1), "MUG": (1, 1)}
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK - 1, STOCK)
    assert order.history[-1].reason == f"return #{ret.id}"

    # Each step emailed: placed and the four return steps (the refund told once, as the
    # return's: not again by the kernel's "Refund for order" email).
    subjects = emails(demo_shop.smtp, 5)
    assert len(subjects) == 5
    assert return_subjects(subjects) == [
        f"Return #{ret.id} of order {order.number} requested — Test Shop",
        f"Return #{ret.id} of order {order.number} approved — Test Shop",
        f"We received your return #{ret.id} — Test Shop",
        f"Return #{ret.id} refunded — Test Shop",
    ]
    approval = next(m for m in demo_shop.smtp.messages if "approved" in m["Subject"])
    assert "Send it to 1 Dock Rd." in body_of(approval)
    refunded = next(m for m in demo_shop.smtp.messages if " refunded — " in m["Subject"])
    assert refunded["To"] == order.email
    assert "€60.50" in body_of(refunded)

    # The customer reads it in words; staff see it on the order and in the audit log.
    shown = guest.app.get(guest_page(order)).html.select_one(f"#return-{ret.id}")
    assert "Refunded" in shown.text and "€60.50" in shown.text
    panel = demo_staff.app.get(f"/admin/orders/{order.number}").html.select_one("#returns")
    assert f"#{ret.id}" in panel.text and "Refunded" in panel.text
    assert len(audited(dbsession)) == 3


def test_a_double_click_on_refund_refunds_once(
    guest_with_shipped_order, demo_shop, demo_staff, admin_user, dbsession
):
    guest, order = guest_with_shipped_order
    ret = asked_return(guest, order, dbsession, {"TEE": 1})
    staff_step(demo_staff, order, ret.id, "approve")
    staff_step(demo_staff, order, ret.id, "receive", **{"received.TEE": "1", "restock.TEE": "1"})
    other = demo_shop.browser()
    other.log_in(admin_user.email, admin_user.password)
    start, answers = threading.Barrier(2), []

    def refund(staff):
        token = staff.token
        start.wait()
        answer = staff.app.post(
            f"/admin/orders/{order.number}/returns/{ret.id}/refund",
            {"csrf_token": token},
            status="*",
        )
        answers.append((answer.status_int, answer.text[:2000] if answer.status_int != 303 else ""))

    threads = [threading.Thread(target=refund, args=(s,)) for s in (demo_staff, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [status for status, _ in answers] == [303, 303], answers
    again = demo_staff.app.post(
        f"/admin/orders/{order.number}/returns/{ret.id}/refund",
        {"csrf_token": demo_staff.token},
        status=303,
    ).follow()
    assert f"Return #{ret.id} was refunded already: nothing changed." in again.text
    order = the_order(dbsession)
    assert refunds_in_stripe(demo_shop, order) == [2400]
    assert order.amount_refunded == 2400
    assert stock_of(dbsession, "TEE") == STOCK - 1
    refunded = [s for s in emails(demo_shop.smtp, 5) if "refund" in s.lower()]
    assert refunded == [f"Return #{ret.id} refunded — Test Shop"], "one email, not one per click"


def test_a_refusal_tells_the_customer_why(
    guest_with_shipped_order, demo_shop, demo_staff, dbsession
):
    guest, order = guest_with_shipped_order
    ret = asked_return(guest, order, dbsession, {"MUG": 1})

    without = staff_step(demo_staff, order, ret.id, "refuse", status=400)
    assert "Tell the customer why, in a sentence." in without.text
    staff_step(demo_staff, order, ret.id, "refuse", message="Used mugs cannot come back.")

    [ret] = returns_of(dbsession)
    assert (ret.status, ret.staff_message) == ("refused", "Used mugs cannot come back.")
    subjects = emails(demo_shop.smtp, 3)
    assert subjects[-1] == f"Return #{ret.id} of order {order.number} — Test Shop"
    assert "Used mugs cannot come back." in body_of(demo_shop.smtp.messages[-1])
    page = guest.app.get(guest_page(order))
    assert "Refused" in page.html.select_one(f"#return-{ret.id}").text
    assert "Our message: Used mugs cannot come back." in page.text
    # A refused return does not hold the units: the mug can be asked for again.
    assert page.html.select_one("input[name='quantity.MUG']")["max"] == "1"
    assert stock_of(dbsession, "MUG") == STOCK - 1


def test_steps_out_of_order_are_refused(guest_with_shipped_order, demo_staff, dbsession):
    guest, order = guest_with_shipped_order
    ret = asked_return(guest, order, dbsession, {"TEE": 1})
    base = f"/admin/orders/{order.number}/returns/{ret.id}"
    token = demo_staff.token

    early = demo_staff.app.post(
        f"{base}/receive", {"csrf_token": token, "received.TEE": "1"}, status=409
    )
    assert f"Return #{ret.id} is to decide: it cannot be received now." in early.text
    demo_staff.app.post(f"{base}/refund", {"csrf_token": token}, status=409)
    demo_staff.app.post(f"{base}/refuse", {"csrf_token": token, "message": "No."}, status=303)
    late = demo_staff.app.post(f"{base}/approve", {"csrf_token": token}, status=409)
    assert "it cannot be approved now" in late.text
    demo_staff.app.post(
        f"/admin/orders/{order.number}/returns/999999/approve", {"csrf_token": token}, status=404
    )
    assert [r.status for r in returns_of(dbsession)] == ["refused"]


def test_stock_never_comes_back_twice(guest_with_shipped_order, demo_staff, dbsession):
    guest, order = guest_with_shipped_order
    ret = asked_return(guest, order, dbsession, {"MUG": 1})
    staff_step(demo_staff, order, ret.id, "approve")
    # Meanwhile someone refunds a goodwill euro and puts the mug back in stock by hand.
    demo_staff.app.post_json(
        f"/api/staff/orders/{order.number}/refunds",
        {"amount": "1.00", "restock": [{"sku": "MUG", "quantity": 1}]},
        headers={"X-CSRF-Token": demo_staff.token},
    )
    assert stock_of(dbsession, "MUG") == STOCK

    refused = staff_step(
        demo_staff,
        order,
        ret.id,
        "receive",
        status=409,
        **{"received.MUG": "1", "restock.MUG": "1"},
    )

    assert f"Only 0 × MUG of order {order.number} can still go back in stock" in refused.text
    assert stock_of(dbsession, "MUG") == STOCK, "never above its level before the sale"
    [ret] = returns_of(dbsession)
    assert ret.status == "approved", "nothing of the refused step is kept"
    # Received without restocking: fine.
    staff_step(demo_staff, order, ret.id, "receive", **{"received.MUG": "1", "restock.MUG": "0"})
    assert stock_of(dbsession, "MUG") == STOCK
    assert lines_of(the_order(dbsession))["MUG"] == (0, 1)


def api(staff, order, path: str, body: dict | None = None, status=200):
    url = f"/api/staff/orders/{order.number}/returns{path}"
    if body is None:
        return staff.app.get(url, status=status).json
    return staff.app.post_json(url, body, headers={"X-CSRF-Token": staff.token}, status=status).json


def test_the_staff_json_api_takes_every_step(
    guest_with_shipped_order, demo_shop, demo_staff, dbsession
):
    guest, order = guest_with_shipped_order
    ret = asked_return(guest, order, dbsession, {"TEE": 1, "MUG": 1})
    [listed] = api(demo_staff, order, "")["returns"]
    assert (listed["id"], listed["status"], listed["reason"]) == (
        ret.id,
        "requested",
        "Arrived damaged",
    )

    api(demo_staff, order, f"/{ret.id}/approve", {"message": "Use the label inside."})
    received = api(
        demo_staff,
        order,
        f"/{ret.id}/receive",
        {"lines": [{"sku": "TEE", "received": 1, "restock": 1}, {"sku": "MUG", "received": 1}]},
    )["return"]
    assert [(x["sku"], x["received"], x["restocked"]) for x in received["lines"]] == [
        ("TEE", 1, 1),
        ("MUG", 1, 0),
    ]
    less = api(demo_staff, order, f"/{ret.id}/refund", {"amount": "30.00"}, status=400)
    assert less["error"]["field"] == "reason"
    done = api(demo_staff, order, f"/{ret.id}/refund", {"amount": "30.00", "reason": "mug chipped"})

    assert done["return"]["status"] == "refunded"
    assert done["return"]["refunded"] == {"amount": 3000, "currency": "EUR"}
    assert refunds_in_stripe(demo_shop, the_order(dbsession)) == [3000]
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK - 1, STOCK - 1)
    # Retried: the same answer, nothing refunded again.
    again = api(demo_staff, order, f"/{ret.id}/refund", {"amount": "30.00", "reason": "x"})
    assert again["return"]["refunded"] == {"amount": 3000, "currency": "EUR"}
    assert refunds_in_stripe(demo_shop, the_order(dbsession)) == [3000]


@pytest.mark.parametrize(
    ("step", "body", "field"),
    [
        ("receive", {"lines": [{"sku": "TEE", "received": 1, "restock": 2}]}, "restock.TEE"),
        ("receive", {"lines": [{"sku": "TEE", "received": 5}]}, "received.TEE"),
        ("receive", {"lines": [{"sku": "TEE", "received": -1}]}, "received.TEE"),
        ("receive", {"lines": [{"sku": "PEN", "received": 1}]}, "lines"),
        ("receive", {"lines": [{"sku": "TEE", "received": 0}]}, "lines"),
        ("receive", {"lines": {"TEE": 1}}, "lines"),
        ("approve", {"message": "x" * 10_000}, "message"),
        ("approve", {"message": "bad\x01byte"}, "message"),
        ("approve", {"message": "bad\x00byte"}, None),  # refused at the HTTP edge
        ("approve", {"message": ["a list"]}, "message"),
    ],
)
def test_the_staff_api_refuses_what_does_not_fit(
    guest_with_shipped_order, demo_staff, dbsession, step, body, field
):
    guest, order = guest_with_shipped_order
    ret = asked_return(guest, order, dbsession, {"TEE": 1})
    if step == "receive":
        api(demo_staff, order, f"/{ret.id}/approve", {})

    refused = api(demo_staff, order, f"/{ret.id}/{step}", body, status=400)

    assert refused["error"].get("field") == field
    assert refused["error"]["message"]
    assert stock_of(dbsession, "TEE") == STOCK - 2


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("24.01", "What came back was charged €24.00: refund at most that."),
        ("abc", "Write the amount in EUR, such as 12.50."),
        ("-5", "A refund must be more than zero."),
        ("1.001", "Write the amount in EUR, such as 12.50."),
    ],
)
def test_a_refund_amount_that_does_not_fit_is_refused(
    guest_with_shipped_order, demo_shop, demo_staff, dbsession, amount, message
):
    guest, order = guest_with_shipped_order
    ret = asked_return(guest, order, dbsession, {"TEE": 1})
    staff_step(demo_staff, order, ret.id, "approve")
    staff_step(demo_staff, order, ret.id, "receive", **{"received.TEE": "1", "restock.TEE": "1"})

    refused = staff_step(demo_staff, order, ret.id, "refund", status=400, amount=amount, reason="r")

    assert message in refused.text
    assert refused.html.select_one("#refund-amount")["value"] == amount, "the form is kept"
    assert refunds_in_stripe(demo_shop, the_order(dbsession)) == []
    assert returns_of(dbsession)[0].status == "received"


def test_the_returns_list_shows_those_to_decide_first(
    guest_with_shipped_order, demo_staff, dbsession
):
    guest, order = guest_with_shipped_order
    first = asked_return(guest, order, dbsession, {"TEE": 1})
    staff_step(demo_staff, order, first.id, "refuse", message="No.")
    second = asked_return(guest, order, dbsession, {"MUG": 1})

    page = demo_staff.app.get("/admin/returns")
    rows = [row.select_one("td").text for row in page.html.select("tbody tr")]
    assert rows == [f"#{second.id}", f"#{first.id}"]
    refused = demo_staff.app.get("/admin/returns?status=refused")
    assert [row.select_one("td").text for row in refused.html.select("tbody tr")] == [
        f"#{first.id}"
    ]
    # Customers have no business there.
    assert guest.app.get("/admin/returns", status="*").status_int in (303, 403)
