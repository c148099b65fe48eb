"""A refund is committed on its own before the provider is asked; what it does to the
order is applied in the request's transaction. When that transaction fails after the
provider refunded, the order still ends up showing the refund, once: the request's
retry finds it (pyramid_retry), or ``mercato reconcile`` applies it."""

import pytest
from transaction.interfaces import TransientError

from mercato.ops.outbox import Worker
from mercato.orders import models as m
from mercato.orders.reconcile import reconcile
from mercato.testing import login
from tests.shop import refund_faults

from .conftest import all_orders, demo_plugins, stock_of


@pytest.fixture
def faulty_shop(make_demo_shop):
    refund_faults.FAULTS.clear()
    refund_faults.LOST.clear()
    plugins = " ".join([*demo_plugins(), "tests.shop.refund_faults"])
    yield make_demo_shop(**{"mercato.plugins": plugins})
    refund_faults.FAULTS.clear()
    refund_faults.LOST.clear()


@pytest.fixture
def paid_order(faulty_shop, dbsession):
    faulty_shop.browser().buy({"MUG": 2})
    [order] = all_orders(dbsession)
    assert order.status == m.PAID
    return order


@pytest.fixture
def staff(faulty_shop, admin_user):
    browser = faulty_shop.browser()
    login(browser.app, admin_user.email, admin_user.password)
    return browser


def refund_one_mug(staff, order, **headers):
    return staff.app.post_json(
        f"/api/staff/orders/{order.number}/refunds",
        {"lines": [{"sku": "MUG", "quantity": 1}], "restock": True},
        headers={"X-CSRF-Token": staff.token, **headers},
        status="*",
    )


def provider_refunds(shop, order) -> list[int]:
    reference = order.payments[-1].reference
    found = shop.localstripe.client().v1.refunds.list(params={"payment_intent": reference})
    return sorted(refund.amount for refund in found.data)


def test_a_conflict_after_the_provider_refunded_is_retried_without_a_second_refund(
    faulty_shop, paid_order, staff, dbsession
):
    refund_faults.FAULTS.append(TransientError)  # the first attempt's transaction fails
    stock_before = stock_of(dbsession, "MUG")

    answer = refund_one_mug(staff, paid_order)  # no Idempotency-Key: the retry's own key

    assert answer.status_int == 200, answer.text
    assert refund_faults.FAULTS == [], "the first attempt failed after the provider"
    [order] = all_orders(dbsession)
    mug_with_vat = 1250  # French VAT included in the price
    assert provider_refunds(faulty_shop, order) == [mug_with_vat], "one refund at Stripe"
    assert order.amount_refunded == mug_with_vat
    assert order.status == m.PARTIALLY_REFUNDED
    assert [line.quantity_refunded for line in order.lines] == [1]
    assert stock_of(dbsession, "MUG") == stock_before + 1, "one unit back, once"
    [refund] = dbsession.query(m.Refund).all()
    assert (refund.status, refund.applied) == ("succeeded", True)


def test_a_request_that_failed_after_the_provider_refunded_is_finished_by_reconcile(
    faulty_shop, paid_order, staff, dbsession
):
    refund_faults.FAULTS.append(RuntimeError)  # a crash: not retried
    stock_before = stock_of(dbsession, "MUG")

    failed = refund_one_mug(staff, paid_order)

    assert failed.status_int == 500
    [order] = all_orders(dbsession)
    assert provider_refunds(faulty_shop, order) == [1250], "the money went back"
    assert (order.amount_refunded, order.status) == (0, m.PAID), "the order does not show it"
    [refund] = dbsession.query(m.Refund).all()
    assert (refund.status, refund.applied) == ("succeeded", False)

    first = reconcile(faulty_shop.app.registry)
    second = reconcile(faulty_shop.app.registry)

    assert (first.plugins["applied_refunds"], second.plugins["applied_refunds"]) == (
        [refund.id],
        [],
    )
    [order] = all_orders(dbsession)
    assert (order.amount_refunded, order.status) == (1250, m.PARTIALLY_REFUNDED)
    assert [line.quantity_refunded for line in order.lines] == [1]
    assert stock_of(dbsession, "MUG") == stock_before + 1
    assert provider_refunds(faulty_shop, order) == [1250], "reconcile asked for nothing"
    Worker(faulty_shop.app.registry).run_once()  # `mercato worker` sends its email
    emails = [message["Subject"] for message in faulty_shop.smtp.messages]
    assert sum("refund" in subject.lower() for subject in emails) == 1, emails

    again = refund_one_mug(staff, order)  # the other mug: the books add up
    assert again.status_int == 200, again.text
    [order] = all_orders(dbsession)
    assert order.amount_refunded == 2500 and order.status == m.PARTIALLY_REFUNDED  # shipping
    assert [line.quantity_refunded for line in order.lines] == [2]
    assert provider_refunds(faulty_shop, order) == [1250, 1250]


def test_a_client_retrying_with_its_idempotency_key_after_a_failure_finds_the_refund_applied(
    faulty_shop, paid_order, staff, dbsession
):
    refund_faults.FAULTS.append(RuntimeError)
    key = {"Idempotency-Key": "refund-mug-1"}

    assert refund_one_mug(staff, paid_order, **key).status_int == 500
    again = refund_one_mug(staff, paid_order, **key)

    assert again.status_int == 200, again.text
    assert again.json["refund"]["amount"] == {"amount": 1250, "currency": "EUR"}
    [order] = all_orders(dbsession)
    assert (order.amount_refunded, order.status) == (1250, m.PARTIALLY_REFUNDED)
    assert [line.quantity_refunded for line in order.lines] == [1]
    assert provider_refunds(faulty_shop, order) == [1250]
    assert reconcile(faulty_shop.app.registry).plugins["applied_refunds"] == []


@pytest.mark.parametrize("lost", ["after", "before"])
def test_mercato_reconcile_confirms_once_a_refund_whose_answer_was_lost(
    faulty_shop, paid_order, staff, dbsession, lost
):
    refund_faults.LOST.append(lost)
    stock_before = stock_of(dbsession, "MUG")

    answer = refund_one_mug(staff, paid_order)

    assert answer.status_int == 409, answer.text
    assert "did not answer" in answer.json["error"]["message"] and "pending" in answer.text
    [order] = all_orders(dbsession)
    asked = [1250] if lost == "after" else []
    assert provider_refunds(faulty_shop, order) == asked
    assert (order.amount_refunded, order.status) == (0, m.PAID), "the order does not show it"
    [refund] = dbsession.query(m.Refund).all()
    assert (refund.status, refund.applied) == ("pending", False)
    assert reconcile(faulty_shop.app.registry).plugins["finished_refunds"] == [], "within its grace"

    first = reconcile(faulty_shop.app.registry, grace=0)
    second = reconcile(faulty_shop.app.registry, grace=0)

    assert (first.plugins["finished_refunds"], first.plugins["applied_refunds"]) == (
        [refund.id],
        [refund.id],
    )
    assert (
        second.plugins["finished_refunds"],
        second.plugins["applied_refunds"],
        second.failed,
    ) == ([], [], [])
    [order] = all_orders(dbsession)
    assert provider_refunds(faulty_shop, order) == [1250], "one refund at Stripe"
    assert (order.amount_refunded, order.status) == (1250, m.PARTIALLY_REFUNDED)
    assert order.payments[-1].amount_refunded == 1250
    assert [line.quantity_refunded for line in order.lines] == [1]
    assert stock_of(dbsession, "MUG") == stock_before + 1, "one unit back, once"
