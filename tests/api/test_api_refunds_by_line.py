"""Staff refund an order by its lines and its shipping through the JSON API: the amount
is what the customer paid for them, tax included, and may only be lowered (with a
reason). Whatever does not fit the order is refused with the kernel's words, and then
nothing is refunded — in the database or in localstripe.

The order: 2 × Blue mug at €12.50 and a Tee at €20.00, Standard shipping €4.90, 10 %
tax added on each line and on the shipping: €54.89."""

import pytest
from sqlalchemy import select

from mercato.orders import models as m
from mercato_catalog.models import Variant
from tests.admin.conftest import add_order

MUG_WITH_TAX = 1375  # (2 × 12.50 + 2.50 tax) / 2
SHIPPING_WITH_TAX = 539  # 4.90 + 0.49


@pytest.fixture
def order(shopper, dbsession):
    placed = shopper.buy({"MUG": 2, "TEE": 1})
    assert placed["total"]["amount"] == 5489
    return placed["number"]


def refund(staff, number: str, body: dict, status=200):
    return staff.post(f"/api/staff/orders/{number}/refunds", body, status=status)


def the_order(dbsession, number: str) -> m.Order:
    dbsession.expire_all()
    return dbsession.scalars(select(m.Order).where(m.Order.number == number)).one()


def in_stripe(localstripe, order: m.Order) -> list[int]:
    refunds = localstripe.client().v1.refunds.list(
        params={"payment_intent": order.payments[-1].reference}
    )
    return sorted(r.amount for r in refunds.data)


def stock(dbsession, sku: str) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(Variant.stock).where(Variant.sku == sku))


def test_refunding_one_unit_refunds_its_tax(staff, order, dbsession, localstripe):
    done = refund(staff, order, {"lines": [{"sku": "MUG", "quantity": 1}], "reason": "chipped"})

    made = done.json["refund"]
    assert {k: made[k] for k in ("amount", "lines", "shipping", "status", "reason")} == {
        "amount": {"amount": MUG_WITH_TAX, "currency": "EUR"},
        "lines": [{"sku": "MUG", "quantity": 1}],
        "shipping": False,
        "status": "succeeded",
        "reason": "chipped",
    }
    assert done.json["order"]["refunds"] == [
        {k: made[k] for k in ("id", "amount", "created_at", "status", "reason", "actor")}
    ]
    assert done.json["order"]["refunded"]["amount"] == MUG_WITH_TAX
    kept = the_order(dbsession, order)
    assert (kept.status, kept.amount_refunded) == (m.PARTIALLY_REFUNDED, MUG_WITH_TAX)
    assert in_stripe(localstripe, kept) == [MUG_WITH_TAX]
    assert stock(dbsession, "MUG") == 8, "not put back unless asked"


def test_the_shipping_is_refunded_with_its_tax_and_restock_true_puts_back_the_lines_refunded(
    staff, order, dbsession, localstripe
):
    done = refund(
        staff,
        order,
        {"lines": [{"sku": "MUG", "quantity": 1}], "shipping": True, "restock": True},
    )

    assert done.json["refund"]["amount"]["amount"] == MUG_WITH_TAX + SHIPPING_WITH_TAX
    kept = the_order(dbsession, order)
    assert {line.sku: line.quantity_restocked for line in kept.lines} == {"MUG": 1, "TEE": 0}
    assert (stock(dbsession, "MUG"), stock(dbsession, "TEE")) == (9, 9)
    assert in_stripe(localstripe, kept) == [MUG_WITH_TAX + SHIPPING_WITH_TAX]
    assert kept.history[-1].actor.startswith("staff:")


def test_the_computed_amount_may_be_lowered_with_a_reason(staff, order, dbsession, localstripe):
    body = {"lines": [{"sku": "TEE", "quantity": 1}], "amount": "15.00"}

    no_reason = refund(staff, order, body, status=400).json["error"]
    assert no_reason == {
        "status": 400,
        "message": 'Say why the refund is less than €22.00: send a "reason".',
        "field": "reason",
    }
    too_much = refund(staff, order, {**body, "amount": "22.01"}, status=400).json["error"]
    assert too_much["message"] == "Cannot refund €22.01: what you named comes to €22.00."
    assert too_much["field"] == "amount"
    assert the_order(dbsession, order).amount_refunded == 0

    refund(staff, order, {**body, "reason": "kept the tee, small stain"})
    kept = the_order(dbsession, order)
    assert kept.amount_refunded == 1500
    assert in_stripe(localstripe, kept) == [1500]
    assert kept.history[-1].reason == "kept the tee, small stain"


def test_a_refund_by_amount_alone_still_works(staff, order, dbsession, localstripe):
    refund(
        staff,
        order,
        {"amount": "5.00", "reason": "late", "restock": [{"sku": "TEE", "quantity": 1}]},
    )
    kept = the_order(dbsession, order)
    assert kept.amount_refunded == 500
    assert in_stripe(localstripe, kept) == [500]
    assert stock(dbsession, "TEE") == 10


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"lines": [{"sku": "MUG", "quantity": 3}]}, "lines", "Order {n} has 2 × Blue mug, not 3."),
        ({"lines": [{"sku": "MUG", "quantity": 10**30}]}, "lines", None),
        ({"lines": [{"sku": "PEN", "quantity": 1}]}, "lines", "Order {n} has no PEN."),
        (
            {"lines": [{"sku": "MUG", "quantity": 0}]},
            "lines",
            "Refund at least 1, or leave the line out.",
        ),
        (
            {"lines": [{"sku": "MUG", "quantity": True}]},
            "lines",
            "True is not a whole number of units.",
        ),
        (
            {"lines": [{"sku": "MUG", "quantity": 1.5}]},
            "lines",
            "1.5 is not a whole number of units.",
        ),
        (
            {"lines": [{"sku": "MUG", "quantity": "1"}]},
            "lines",
            "'1' is not a whole number of units.",
        ),
        ({"lines": [{"quantity": 1}]}, "lines", "Give the sku of each line to refund."),
        ({"lines": "MUG"}, "lines", 'Send "lines" as a list of {{"sku": …, "quantity": …}}.'),
        ({"shipping": "yes"}, "shipping", 'Send "shipping": true or false.'),
        (
            {"lines": [], "amount": "lots"},
            "amount",
            'Send {{"amount": "12.50"}} in the order\'s currency.',
        ),
        (
            {},
            "amount",
            'Send {{"amount": "12.50"}} in the order\'s currency, or the "lines" to refund.',
        ),
        (
            {"lines": [{"sku": "MUG", "quantity": 1}], "restock": [{"sku": "MUG", "quantity": 3}]},
            "restock",
            "Only 2 × MUG of order {n} can go back in stock.",
        ),
    ],
)
def test_what_does_not_fit_the_order_is_refused_and_nothing_is_refunded(
    staff, order, dbsession, localstripe, body, field, message
):
    error = refund(staff, order, body, status=400).json["error"]

    assert error["field"] == field
    if message is not None:
        assert error["message"] == message.format(n=order)
    else:
        assert error["message"].startswith(f"Order {order} has 2 × Blue mug, not ")
    kept = the_order(dbsession, order)
    assert (kept.status, kept.amount_refunded) == (m.PAID, 0)
    assert dbsession.scalars(select(m.Refund)).all() == []
    assert in_stripe(localstripe, kept) == []
    assert stock(dbsession, "MUG") == 8


def test_more_than_is_left_to_refund_is_refused(staff, order, dbsession, localstripe):
    refund(staff, order, {"amount": "50.00"})

    refused = refund(staff, order, {"lines": [{"sku": "TEE", "quantity": 1}]}, status=409)

    assert refused.json["error"]["message"] == (
        f"Cannot refund €22.00: only €4.89 of order {order} is left to refund."
    )
    kept = the_order(dbsession, order)
    assert kept.amount_refunded == 5000
    assert in_stripe(localstripe, kept) == [5000]


def test_an_order_without_shipping_has_none_to_refund(staff, db_engine):
    add_order(db_engine, "M-000001")
    refused = refund(staff, "M-000001", {"shipping": True}, status=400).json["error"]
    assert refused == {
        "status": 400,
        "message": "Order M-000001 has no shipping to refund.",
        "field": "shipping",
    }
