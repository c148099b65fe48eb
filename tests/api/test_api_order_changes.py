"""After the sale, through the JSON API: staff cancel units that have not shipped
(``/api/staff/orders/{number}/cancellations``: back in stock, refunded in localstripe),
a retried refund or cancellation with the same ``Idempotency-Key`` is done once, and
the order's JSON — the customer's and the staff's — says per line what shipped, was
cancelled, refunded and put back in stock, and lists the refunds.

The order: 2 × Blue mug at €12.50 and a Tee at €20.00, Standard shipping €4.90, 10 %
tax added on each line and on the shipping: €54.89."""

import pytest
from sqlalchemy import select

from mercato.orders import models as m
from tests.admin.conftest import audit_entries

from .buying import ApiShopper
from .test_api_refunds_by_line import (
    MUG_WITH_TAX,
    SHIPPING_WITH_TAX,
    in_stripe,
    stock,
    the_order,
)

TEE_WITH_TAX = 2200


@pytest.fixture
def order(shopper):
    placed = shopper.buy({"MUG": 2, "TEE": 1})
    assert placed["total"]["amount"] == 5489
    return placed["number"]


def cancel(staff, number: str, body: dict, status=200, key: str | None = None):
    headers = {"X-CSRF-Token": staff.token}
    if key is not None:
        headers["Idempotency-Key"] = key
    return staff.app.post_json(
        f"/api/staff/orders/{number}/cancellations", body, headers=headers, status=status
    )


def units(*pairs) -> list[dict]:
    return [{"sku": sku, "quantity": quantity} for sku, quantity in pairs]


def line_counts(order_json: dict) -> dict[str, tuple[int, ...]]:
    """``{sku: (shipped, cancelled, refunded, restocked, to ship)}``."""
    return {
        line["sku"]: tuple(
            line[f"quantity_{what}"]
            for what in ("shipped", "cancelled", "refunded", "restocked", "to_ship")
        )
        for line in order_json["lines"]
    }


def test_staff_cancel_a_unit_then_the_rest_and_the_shipping_comes_back_last(
    staff, order, dbsession, localstripe, staff_user
):
    first = cancel(staff, order, {"lines": units(("MUG", 1)), "reason": "broken in stock"})

    assert first.json["cancelled"] == units(("MUG", 1))
    assert first.json["refund"]["amount"] == {"amount": MUG_WITH_TAX, "currency": "EUR"}
    assert first.json["refund"]["reason"] == "broken in stock"
    shown = first.json["order"]
    assert shown["status"] == m.PARTIALLY_REFUNDED
    assert line_counts(shown) == {"MUG": (0, 1, 1, 1, 1), "TEE": (0, 0, 0, 0, 1)}
    assert [r["amount"]["amount"] for r in shown["refunds"]] == [MUG_WITH_TAX]
    assert shown["shipping_refunded"] is False
    assert (stock(dbsession, "MUG"), stock(dbsession, "TEE")) == (9, 9)

    rest = cancel(staff, order, {"lines": units(("MUG", 1), ("TEE", 1))}).json

    everything_else = MUG_WITH_TAX + TEE_WITH_TAX + SHIPPING_WITH_TAX
    assert rest["refund"]["amount"]["amount"] == everything_else
    assert rest["order"]["status"] == m.REFUNDED
    assert rest["order"]["shipping_refunded"] is True
    assert line_counts(rest["order"]) == {"MUG": (0, 2, 2, 2, 0), "TEE": (0, 1, 1, 1, 0)}
    kept = the_order(dbsession, order)
    assert (kept.amount_refunded, kept.amount_captured) == (5489, 5489)
    assert in_stripe(localstripe, kept) == sorted([MUG_WITH_TAX, everything_else])
    assert (stock(dbsession, "MUG"), stock(dbsession, "TEE")) == (10, 10)
    assert kept.history[-1].actor == f"staff:{staff_user.id}"
    assert [e.action for e in audit_entries(dbsession)] == ["api_order_line_cancellations"] * 2


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"lines": units(("MUG", 3))}, 400, "Only 2 × Blue mug of order {n} are left to cancel."),
        ({"lines": units(("PEN", 1))}, 400, "Order {n} has no PEN."),
        ({"lines": units(("MUG", 0))}, 400, "Cancel at least 1, or leave the line out."),
        ({"lines": units(("MUG", "1"))}, 400, "'1' is not a whole number of units."),
        ({"lines": units(("MUG", 1.5))}, 400, "1.5 is not a whole number of units."),
        ({"lines": [{"quantity": 1}]}, 400, "Give the sku of each line to cancel."),
        ({"lines": "MUG"}, 400, 'Send "lines" as a list of {{"sku": …, "quantity": …}}.'),
        ({}, 400, 'Send the "lines" to cancel: [{{"sku": …, "quantity": …}}].'),
    ],
)
def test_what_the_order_cannot_cancel_is_refused_and_nothing_moves(
    staff, order, dbsession, localstripe, body, status, message
):
    error = cancel(staff, order, body, status=status).json["error"]

    assert (error["message"], error["field"]) == (message.format(n=order), "lines")
    kept = the_order(dbsession, order)
    assert (kept.status, kept.amount_refunded) == (m.PAID, 0)
    assert [line.quantity_cancelled for line in kept.lines] == [0, 0]
    assert in_stripe(localstripe, kept) == []
    assert (stock(dbsession, "MUG"), stock(dbsession, "TEE")) == (8, 9)
    assert audit_entries(dbsession) == []


def test_an_authorized_order_is_not_cancelled_by_line(shop, localstripe, staff, dbsession):
    shopper = ApiShopper(shop(**{"mercato.capture": "fulfilment"}), localstripe)
    number = shopper.buy({"MUG": 2})["number"]
    assert the_order(dbsession, number).status == m.AUTHORIZED

    error = cancel(staff, number, {"lines": units(("MUG", 1))}, status=409).json["error"]

    assert error["message"] == (
        f"Order {number} is authorized, not paid: change the order to take units off, "
        "or cancel it whole."
    )
    assert the_order(dbsession, number).lines[0].quantity_cancelled == 0
    # The whole-order cancellation stays for an unpaid order.
    staff.post(f"/api/staff/orders/{number}/cancellation", {"reason": "changed their mind"})
    assert the_order(dbsession, number).status == m.CANCELLED
    assert stock(dbsession, "MUG") == 10


def test_a_cancellation_retried_with_its_idempotency_key_is_done_once(
    staff, order, dbsession, localstripe
):
    body = {"lines": units(("MUG", 1))}
    first = cancel(staff, order, body, key="cancel-7f3e9a").json
    again = cancel(staff, order, body, key="cancel-7f3e9a").json

    assert again["refund"] == first["refund"], "the first request's refund"
    assert line_counts(again["order"])["MUG"] == (0, 1, 1, 1, 1)
    kept = the_order(dbsession, order)
    assert (kept.amount_refunded, kept.lines[0].quantity_cancelled) == (MUG_WITH_TAX, 1)
    assert in_stripe(localstripe, kept) == [MUG_WITH_TAX]
    assert stock(dbsession, "MUG") == 9

    other = cancel(staff, order, body, key="cancel-other").json
    assert other["refund"]["id"] != first["refund"]["id"], "another key, another unit"
    assert in_stripe(localstripe, the_order(dbsession, order)) == [MUG_WITH_TAX] * 2


def test_a_refund_retried_with_its_idempotency_key_is_made_once(
    staff, order, dbsession, localstripe
):
    body = {"lines": units(("TEE", 1)), "reason": "wrong size"}
    headers = {"X-CSRF-Token": staff.token, "Idempotency-Key": "4b1d0c2e-retry"}
    url = f"/api/staff/orders/{order}/refunds"

    first = staff.app.post_json(url, body, headers=headers).json
    again = staff.app.post_json(url, body, headers=headers).json

    assert again["refund"] == first["refund"]
    assert first["refund"]["amount"]["amount"] == TEE_WITH_TAX
    kept = the_order(dbsession, order)
    assert kept.amount_refunded == TEE_WITH_TAX
    assert in_stripe(localstripe, kept) == [TEE_WITH_TAX]
    assert dbsession.scalars(select(m.Refund.request_key)).all() == ["4b1d0c2e-retry"]


@pytest.mark.parametrize("key", ["k" * 65, "two words", "", "clé"])
def test_an_idempotency_key_the_kernel_cannot_keep_is_refused(
    staff, order, dbsession, localstripe, key
):
    for path, body in (
        ("cancellations", {"lines": units(("MUG", 1))}),
        ("refunds", {"amount": "1.00"}),
    ):
        error = staff.app.post_json(
            f"/api/staff/orders/{order}/{path}",
            body,
            headers={"X-CSRF-Token": staff.token, "Idempotency-Key": key},
            status=400,
        ).json["error"]
        assert error["field"] == "Idempotency-Key"
        assert "1 to 64 printable characters" in error["message"]
    assert in_stripe(localstripe, the_order(dbsession, order)) == []


def test_the_customer_and_staff_see_what_became_of_each_line_and_the_refunds(
    shopper, staff, order, dbsession
):
    cancel(staff, order, {"lines": units(("MUG", 1)), "reason": "broken in stock"})
    token = the_order(dbsession, order).access_token

    mine = shopper.app.get(f"/api/orders/{token}").json["order"]
    assert line_counts(mine) == {"MUG": (0, 1, 1, 1, 1), "TEE": (0, 0, 0, 0, 1)}
    [refund] = mine["refunds"]
    assert set(refund) == {"id", "amount", "created_at"}, "not staff's reason or name"
    assert refund["amount"]["amount"] == MUG_WITH_TAX

    theirs = staff.app.get(f"/api/staff/orders/{order}").json["order"]
    assert line_counts(theirs) == line_counts(mine)
    [staff_view] = theirs["refunds"]
    assert (staff_view["status"], staff_view["reason"]) == ("succeeded", "broken in stock")
    assert staff_view["actor"].startswith("staff:")
    shopper.app.get(f"/api/staff/orders/{order}", status=401)  # a guest
