"""After the sale, in the shop as ``mercato demo`` composes it: staff cancel and refund
through the admin's forms and the staff JSON API, and say which lines go back to stock.
Stock only ever comes back for what was sold and is not back yet: it never rises above
its level before the sale. Every refund is checked in localstripe, where the real SDK
made it."""

import threading

import pytest
from sqlalchemy import select

from mercato.orders import models as m

from .conftest import CARD_3DS, all_orders, stock_of

STOCK = 10  # of TEE and of MUG, before any sale


def the_order(dbsession) -> m.Order:
    [order] = all_orders(dbsession)
    return order


def refunds_in_stripe(shop, order: m.Order) -> list[int]:
    reference = order.payments[-1].reference
    refunds = shop.localstripe.client().v1.refunds.list(params={"payment_intent": reference})
    return sorted(refund.amount for refund in refunds.data)


def refund_rows(dbsession) -> list[int]:
    return dbsession.scalars(select(m.Refund.amount).order_by(m.Refund.id)).all()


def restocked(order: m.Order) -> dict[str, int]:
    return {line.sku: line.quantity_restocked for line in order.lines}


def admin_form(staff, order: m.Order, action: str, status=303, restock=None, **fields):
    """Post the admin's form as a browser would: its own CSRF token, and a quantity to
    put back in stock per line (``restock={"TEE": 1}``) in that line's field."""
    page = staff.app.get(f"/admin/orders/{order.number}")
    token = page.html.select_one(f"#{action}-form input[name=csrf_token]")["value"]
    for sku, quantity in (restock or {}).items():
        [line] = [line for line in order.lines if line.sku == sku]
        field = page.html.select_one(f"#{action}-form input[name=restock-{line.position}]")
        assert field is not None, f"the refund form has a stock field for {sku}"
        fields[field["name"]] = str(quantity)
    return staff.app.post(
        f"/admin/orders/{order.number}/{action}",
        {"csrf_token": token, **fields},
        status=status,
    )


def api_refund(staff, order: m.Order, body: dict, status=200):
    return staff.app.post_json(
        f"/api/staff/orders/{order.number}/refunds",
        body,
        headers={"X-CSRF-Token": staff.token},
        status=status,
    )


def test_cancelling_an_unpaid_order_voids_it_and_puts_every_line_back_once(
    demo_shop, demo_shopper, demo_staff, dbsession
):
    # The composed shop captures at checkout: the order that can still be cancelled is
    # one whose 3-D Secure the shopper never completed.
    demo_shopper.buy({"TEE": 2, "MUG": 1}, number=CARD_3DS, status=200)
    order = the_order(dbsession)
    assert order.status == m.AWAITING_PAYMENT
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (8, 9)

    done = admin_form(demo_staff, order, "cancel", reason="never paid").follow()

    assert "the items are back in stock" in done.text
    order = the_order(dbsession)
    assert order.status == m.CANCELLED
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK, STOCK)
    assert restocked(order) == {"TEE": 2, "MUG": 1}
    pi = demo_shop.localstripe.client().v1.payment_intents.retrieve(order.payments[-1].reference)
    assert pi.status == "canceled"

    # Cancelled is final: a second cancel (a page left open in another tab) is refused
    # and nothing goes back twice.
    demo_staff.app.post(
        f"/admin/orders/{order.number}/cancel", {"csrf_token": demo_staff.token}, status=409
    )
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK, STOCK)


def test_a_full_refund_puts_the_stock_back_when_asked(
    demo_shop, demo_shopper, demo_staff, dbsession
):
    demo_shopper.buy({"TEE": 1, "MUG": 2})
    order = the_order(dbsession)
    # 49.00 of goods and 9.90 of shipping to France (VAT included in both).
    assert (order.status, order.amount_captured) == (m.PAID, 5890)

    done = api_refund(demo_staff, order, {"amount": "58.90", "reason": "lost", "restock": True})

    assert done.json["order"]["status"] == m.REFUNDED
    order = the_order(dbsession)
    assert (order.status, order.amount_refunded) == (m.REFUNDED, 5890)
    assert refunds_in_stripe(demo_shop, order) == [5890]
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK, STOCK)
    assert restocked(order) == {"TEE": 1, "MUG": 2}


def test_a_partial_refund_restocks_only_the_line_it_names(
    demo_shop, demo_shopper, demo_staff, dbsession
):
    demo_shopper.buy({"TEE": 1, "MUG": 1})
    order = the_order(dbsession)

    api_refund(
        demo_staff,
        order,
        {"amount": "24.00", "reason": "tee too small", "restock": [{"sku": "TEE", "quantity": 1}]},
    )

    order = the_order(dbsession)
    assert (order.status, order.amount_refunded) == (m.PARTIALLY_REFUNDED, 2400)
    assert refunds_in_stripe(demo_shop, order) == [2400]
    assert stock_of(dbsession, "TEE") == STOCK, "the tee is back"
    assert stock_of(dbsession, "MUG") == STOCK - 1, "the mug is still with the customer"
    assert restocked(order) == {"TEE": 1, "MUG": 0}


def test_a_partial_refund_through_the_admin_form_restocks_only_that_line(
    demo_shop, demo_shopper, demo_staff, dbsession
):
    demo_shopper.buy({"TEE": 2, "MUG": 1})
    order = the_order(dbsession)

    done = admin_form(demo_staff, order, "refund", amount="24.00", restock={"TEE": 1}).follow()

    assert f"€24.00 refunded for order {order.number}." in done.text
    order = the_order(dbsession)
    assert (order.status, order.amount_refunded) == (m.PARTIALLY_REFUNDED, 2400)
    assert refunds_in_stripe(demo_shop, order) == [2400]
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK - 1, STOCK - 1)
    assert restocked(order) == {"TEE": 1, "MUG": 0}


def test_a_line_never_goes_back_to_stock_twice(demo_shop, demo_shopper, demo_staff, dbsession):
    demo_shopper.buy({"TEE": 1, "MUG": 1})
    order = the_order(dbsession)
    api_refund(demo_staff, order, {"amount": "24.00", "restock": [{"sku": "TEE", "quantity": 1}]})
    assert stock_of(dbsession, "TEE") == STOCK

    # Again, through the API and through the admin's form: refused, nothing refunded.
    again = api_refund(
        demo_staff,
        order,
        {"amount": "1.00", "restock": [{"sku": "TEE", "quantity": 1}]},
        status=400,
    )
    message = f"The 1 × TEE of order {order.number} is already back in stock."
    assert again.json["error"]["message"] == message
    page = admin_form(demo_staff, order, "refund", amount="1.00", restock={"TEE": 1}, status=400)
    [line] = [line for line in order.lines if line.sku == "TEE"]
    assert page.html.select_one(f"#refund-restock-{line.position}-error").text == message
    assert page.html.select_one("#refund-amount")["value"] == "1.00", "the form is kept"

    order = the_order(dbsession)
    assert (order.status, order.amount_refunded) == (m.PARTIALLY_REFUNDED, 2400)
    assert refund_rows(dbsession) == [2400], "nothing was written"
    assert refunds_in_stripe(demo_shop, order) == [2400], "nothing was refunded"
    assert stock_of(dbsession, "TEE") == STOCK, "never above its level before the sale"

    # "restock": true puts back what is not back yet: the mug only.
    api_refund(demo_staff, order, {"amount": "1.00", "restock": True})
    order = the_order(dbsession)
    assert order.amount_refunded == 2500
    assert refunds_in_stripe(demo_shop, order) == [100, 2400]
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK, STOCK)
    assert restocked(order) == {"TEE": 1, "MUG": 1}


def test_two_staff_restocking_the_same_line_at_once_put_it_back_once(
    demo_shop, demo_shopper, demo_staff, admin_user, dbsession
):
    demo_shopper.buy({"TEE": 1, "MUG": 1})
    order = the_order(dbsession)
    other = demo_shop.browser()
    other.log_in(admin_user.email, admin_user.password)
    body = {"amount": "24.00", "restock": [{"sku": "TEE", "quantity": 1}]}
    start, answers = threading.Barrier(2), []

    def refund(staff):
        start.wait()
        answers.append(api_refund(staff, order, body, status="*").status_int)

    threads = [threading.Thread(target=refund, args=(s,)) for s in (demo_staff, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answers) == [200, 400], "the second waits for the first, then is refused"
    order = the_order(dbsession)
    assert refunds_in_stripe(demo_shop, order) == [2400]
    assert order.amount_refunded == 2400
    assert stock_of(dbsession, "TEE") == STOCK


def test_a_refund_without_restock_leaves_the_stock_alone(
    demo_shop, demo_shopper, demo_staff, dbsession
):
    demo_shopper.buy({"TEE": 1, "MUG": 1})
    order = the_order(dbsession)

    admin_form(demo_staff, order, "refund", amount="5.00", reason="late")
    api_refund(demo_staff, order, {"amount": "6.00", "restock": False})

    order = the_order(dbsession)
    assert (order.status, order.amount_refunded) == (m.PARTIALLY_REFUNDED, 1100)
    assert refunds_in_stripe(demo_shop, order) == [500, 600]
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK - 1, STOCK - 1)
    assert restocked(order) == {"TEE": 0, "MUG": 0}


@pytest.mark.parametrize(
    ("restock", "message"),
    [
        ([{"sku": "MUG", "quantity": 2}], "Only 1 × MUG of order {number} can go back in stock."),
        ([{"sku": "PEN", "quantity": 1}], "Order {number} has no PEN to put back in stock."),
        ([{"sku": "TEE", "quantity": 0}], "Put back at least 1, or leave the line out."),
        ([{"sku": "TEE"}], "Give the quantity of each line to put back in stock."),
        ("all", 'Send "restock": true, false or a list of {{"sku": …, "quantity": …}}.'),
    ],
)
def test_a_restock_that_does_not_fit_the_order_is_refused_before_any_refund(
    demo_shop, demo_shopper, demo_staff, dbsession, restock, message
):
    demo_shopper.buy({"TEE": 1, "MUG": 1})
    order = the_order(dbsession)

    refused = api_refund(demo_staff, order, {"amount": "12.50", "restock": restock}, status=400)

    assert refused.json["error"]["message"] == message.format(number=order.number)
    order = the_order(dbsession)
    assert (order.status, order.amount_refunded) == (m.PAID, 0)
    assert refund_rows(dbsession) == []
    assert refunds_in_stripe(demo_shop, order) == []
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK - 1, STOCK - 1)
