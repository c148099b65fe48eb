"""A use is counted when the order is placed, in the checkout's transaction: a code
limited to N uses is used N times and no more, however many checkouts race for it."""

import threading

import pytest
import transaction
from mercato_promotions.services import CodeUsedUp
from promotions_standin_shop import StandInBase, StandInOrder
from promotions_testdata import PLUGINS, add_code, times_used
from sqlalchemy import select
from sqlalchemy.orm import Session
from zope.sqlalchemy import register

from mercato.testing import csrf_token, make_plugin_manager


@pytest.fixture
def mercato_plugins():
    return PLUGINS


@pytest.fixture(autouse=True)
def standin_orders_table(db_engine):
    StandInBase.metadata.create_all(db_engine)
    yield
    StandInBase.metadata.drop_all(db_engine)


def orders_placed(dbsession) -> list[int]:
    dbsession.expire_all()
    return dbsession.scalars(select(StandInOrder.total).order_by(StandInOrder.id)).all()


def shopper_with_code(make_test_app, code):
    shopper = make_test_app(plugins=PLUGINS)
    form = {"code": code, "csrf_token": csrf_token(shopper)}
    shopper.post("/promotions/code", form, status=303)
    return shopper


def checkout(shopper, status=200, **basket):
    form = {**basket, "csrf_token": csrf_token(shopper)}
    return shopper.post("/standin/checkout", form, status=status)


def place_order(hooks, session, code: str):
    """What checkout does: save the order with its adjustments, then call the hook."""
    order = StandInOrder(currency="EUR", total=2700)
    order.adjustments = [
        {"label": f"Discount {code}", "amount": -300, "code": code, "source": "promotions"}
    ]
    session.add(order)
    session.flush()
    hooks.mercato_order_placed(order=order)


def test_mercato_order_placed_counts_one_use_of_the_applied_code(make_test_app, dbsession):
    add_code(dbsession, "SUMMER10", percent=10, max_uses=100)
    shopper = shopper_with_code(make_test_app, "SUMMER10")

    placed = checkout(shopper, MUG=2)

    assert placed.json["total"] == 2250
    assert times_used(dbsession, "SUMMER10") == 1


def test_mercato_cart_checked_out_forgets_the_code_once_the_order_committed(
    make_test_app, dbsession
):
    add_code(dbsession, "SUMMER10", percent=10)
    shopper = shopper_with_code(make_test_app, "SUMMER10")

    checkout(shopper, MUG=1)

    assert shopper.get("/api/promotions/code").json == {"code": None}


def test_order_without_a_code_counts_nothing(app, dbsession):
    add_code(dbsession, "SUMMER10", percent=10)
    checkout(app, MUG=1)
    assert times_used(dbsession, "SUMMER10") == 0
    assert orders_placed(dbsession) == [1250]


def test_code_used_up_after_it_was_applied_gives_no_discount_at_checkout(make_test_app, dbsession):
    add_code(dbsession, "LAST", amount=500, max_uses=1)
    first = shopper_with_code(make_test_app, "LAST")
    second = shopper_with_code(make_test_app, "LAST")

    checkout(first, POSTER=1)

    assert "Code <strong>LAST</strong> has been fully used" in second.get("/standin/cart").text
    assert checkout(second, POSTER=1).json["total"] == 3000
    assert times_used(dbsession, "LAST") == 1


def test_mercato_order_placed_refuses_a_used_up_code_and_the_checkout_keeps_nothing(
    db_engine, dbsession
):
    add_code(dbsession, "GONE", amount=300, max_uses=2, times_used=2)
    hooks = make_plugin_manager(["promotions"]).hook
    manager = transaction.TransactionManager(explicit=True)
    session = Session(db_engine)
    register(session, transaction_manager=manager)

    manager.begin()
    with pytest.raises(CodeUsedUp) as refused:
        place_order(hooks, session, "GONE")
    manager.abort()
    session.close()

    assert refused.value.status == 409
    assert "The discount code GONE can no longer be used" in refused.value.message
    assert orders_placed(dbsession) == []
    assert times_used(dbsession, "GONE") == 2


def test_usage_limit_holds_under_concurrent_checkouts(db_engine, dbsession):
    """12 checkouts in 12 threads, each in its own PostgreSQL transaction, call
    mercato_order_placed at the same moment for a code with 5 uses left."""
    add_code(dbsession, "RUSH", percent=10, max_uses=5)
    hooks = make_plugin_manager(["promotions"]).hook
    buyers = 12  # within the test engine's pool (5 + 10 overflow)
    start = threading.Barrier(buyers)
    outcomes: list[str] = []

    def buy():
        manager = transaction.TransactionManager(explicit=True)
        session = Session(db_engine)
        register(session, transaction_manager=manager)
        manager.begin()
        try:
            start.wait(timeout=30)
            place_order(hooks, session, "RUSH")
            manager.commit()
            outcomes.append("placed")
        except CodeUsedUp:
            manager.abort()
            outcomes.append("refused")
        except Exception as exc:  # reported by the assertion below, not lost in a thread
            manager.abort()
            outcomes.append(repr(exc))
        finally:
            session.close()

    threads = [threading.Thread(target=buy) for _ in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["placed"] * 5 + ["refused"] * 7
    assert times_used(dbsession, "RUSH") == 5
    assert orders_placed(dbsession) == [2700] * 5


def test_shoppers_racing_for_the_last_uses_over_http(make_test_app, dbsession):
    """8 shoppers with the code applied check out at once for its 3 remaining uses:
    3 orders get the discount; each other shopper either gets a 409 in plain words
    (raced at redemption, nothing kept) or pays the full price (priced after the code
    ran out) — never a fourth discount."""
    add_code(dbsession, "FLASH", amount=1000, max_uses=3)
    shoppers = [shopper_with_code(make_test_app, "FLASH") for _ in range(8)]
    forms = [{"POSTER": 1, "csrf_token": csrf_token(s)} for s in shoppers]
    start = threading.Barrier(len(shoppers))
    answers: list = []

    def buy(shopper, form):
        start.wait(timeout=30)
        response = shopper.post("/standin/checkout", form, expect_errors=True)
        answers.append((response.status_int, response.text))

    threads = [
        threading.Thread(target=buy, args=pair) for pair in zip(shoppers, forms, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == 8
    assert {status for status, _ in answers} <= {200, 409}
    for status, text in answers:
        if status == 409:
            assert "The discount code FLASH can no longer be used" in text
    placed = orders_placed(dbsession)
    assert sorted(placed).count(2000) == 3, "exactly three discounted orders"
    assert all(total == 3000 for total in placed if total != 2000)
    assert len(placed) == sum(1 for status, _ in answers if status == 200)
    assert times_used(dbsession, "FLASH") == 3
