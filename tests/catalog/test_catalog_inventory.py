"""Stock: guarded reservations against real PostgreSQL, concurrently, through the hooks."""

import threading
import time

import pytest
import transaction
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zope.sqlalchemy import register

from mercato import Line, OutOfStock
from mercato.plugins import make_plugin_manager
from mercato_catalog.models import Variant

BUYERS = 60


@pytest.fixture
def hooks():
    return make_plugin_manager(["catalog"]).hook


def stock_of(engine, sku: str) -> int:
    with Session(engine) as session:
        return session.execute(select(Variant.stock).where(Variant.sku == sku)).scalar_one()


def test_mercato_release_stock_puts_back_what_reserve_took(hooks, catalog, tm_session, db_engine):
    catalog.product("Mug", sku="MUG", stock=10)
    session, manager = tm_session

    manager.begin()
    hooks.mercato_reserve_stock(dbsession=session, lines=[Line("MUG", 3), Line("MUG", 1)])
    manager.commit()
    assert stock_of(db_engine, "MUG") == 6

    manager.begin()
    hooks.mercato_release_stock(dbsession=session, lines=[Line("MUG", 4)])
    manager.commit()
    assert stock_of(db_engine, "MUG") == 10


def test_a_reservation_is_committed_by_the_transaction_manager(
    hooks, catalog, tm_session, db_engine
):
    """The zope.sqlalchemy trap: an UPDATE it does not see is rolled back at commit."""
    catalog.product("Mug", sku="MUG", stock=5)
    session, manager = tm_session
    manager.begin()
    hooks.mercato_reserve_stock(dbsession=session, lines=[Line("MUG", 2)])
    manager.commit()
    assert stock_of(db_engine, "MUG") == 3


def test_out_of_stock_names_the_sku_and_what_is_left(hooks, catalog, tm_session, db_engine):
    catalog.product("Tent", sku="TENT", stock=2)
    session, manager = tm_session
    manager.begin()
    with pytest.raises(OutOfStock) as refused:
        hooks.mercato_reserve_stock(dbsession=session, lines=[Line("TENT", 3)])
    manager.abort()
    assert (refused.value.sku, refused.value.requested, refused.value.available) == ("TENT", 3, 2)
    assert "TENT: 3 requested, only 2 left" in str(refused.value)
    assert stock_of(db_engine, "TENT") == 2


def test_a_refused_line_undoes_the_whole_reservation(hooks, catalog, tm_session, db_engine):
    catalog.product("Mug", sku="A-MUG", stock=5)
    catalog.product("Tent", sku="B-TENT", stock=0)
    session, manager = tm_session
    manager.begin()
    with pytest.raises(OutOfStock) as refused:
        hooks.mercato_reserve_stock(dbsession=session, lines=[Line("A-MUG", 1), Line("B-TENT", 1)])
    manager.abort()
    assert str(refused.value) == "B-TENT: sold out"
    assert stock_of(db_engine, "A-MUG") == 5


def test_a_withdrawn_variant_cannot_be_reserved(hooks, catalog, tm_session):
    catalog.product("Old", variants=[{"sku": "OLD", "stock": 9, "active": False}])
    session, manager = tm_session
    manager.begin()
    with pytest.raises(OutOfStock) as refused:
        hooks.mercato_reserve_stock(dbsession=session, lines=[Line("OLD", 1)])
    manager.abort()
    assert refused.value.available == 0


def test_skus_of_other_plugins_are_ignored(hooks, tm_session):
    session, manager = tm_session
    manager.begin()
    hooks.mercato_reserve_stock(dbsession=session, lines=[Line("GIFT-CARD", 1)])
    hooks.mercato_release_stock(dbsession=session, lines=[Line("GIFT-CARD", 1)])
    assert hooks.mercato_stock_level(dbsession=session, sku="GIFT-CARD") is None
    manager.abort()


def test_a_negative_quantity_is_refused(hooks, catalog, tm_session):
    catalog.product("Mug", sku="MUG", stock=5)
    session, manager = tm_session
    manager.begin()
    with pytest.raises(ValueError, match="quantity"):
        hooks.mercato_reserve_stock(dbsession=session, lines=[Line("MUG", -2)])
    manager.abort()


def test_stock_level_reads_stock_and_zero_for_withdrawn(hooks, catalog, dbsession):
    catalog.product("Mug", sku="MUG", stock=7)
    catalog.product("Old", variants=[{"sku": "OLD", "stock": 9, "active": False}])
    assert hooks.mercato_stock_level(dbsession=dbsession, sku="MUG") == 7
    assert hooks.mercato_stock_level(dbsession=dbsession, sku="OLD") == 0


def test_the_database_refuses_negative_stock(catalog, dbsession):
    catalog.product("Mug", sku="MUG", stock=1)
    with pytest.raises(IntegrityError, match="stock_not_negative"):
        dbsession.execute(text("UPDATE catalog_variants SET stock = -1 WHERE sku = 'MUG'"))
    dbsession.rollback()


def _concurrent(engine, hooks, orders, hold_seconds=0.005):
    """Run every order in its own thread, session and transaction, all at once."""
    start = threading.Barrier(len(orders))
    outcomes = []
    lock = threading.Lock()

    def buy(lines):
        manager = transaction.TransactionManager(explicit=True)
        session = Session(engine)
        register(session, transaction_manager=manager)
        start.wait()
        try:
            manager.begin()
            hooks.mercato_reserve_stock(dbsession=session, lines=lines)
            # Hold the row lock a moment, as a checkout inserting its order would.
            time.sleep(hold_seconds)
            manager.commit()
            outcome = "sold"
        except OutOfStock as exc:
            manager.abort()
            outcome = exc
        except Exception as exc:  # a deadlock or pool timeout would land here
            manager.abort()
            outcome = f"error: {type(exc).__name__}: {exc}"
        finally:
            session.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=buy, args=(lines,)) for lines in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


@pytest.fixture
def buyers_engine(migrated_database):
    # Each buyer holds a connection of its own, so they really race for the row.
    engine = create_engine(migrated_database, pool_size=30, max_overflow=0, pool_timeout=60)
    yield engine
    engine.dispose()


def test_sixty_concurrent_buyers_of_the_last_seven_units_never_oversell(
    hooks, catalog, buyers_engine
):
    catalog.product("Limited Print", sku="PRINT", stock=7)

    outcomes = _concurrent(buyers_engine, hooks, [[Line("PRINT", 1)]] * BUYERS)

    errors = [o for o in outcomes if isinstance(o, str) and o.startswith("error")]
    assert errors == []
    sold = outcomes.count("sold")
    refused = [o for o in outcomes if isinstance(o, OutOfStock)]
    assert sold == 7
    assert len(refused) == BUYERS - 7
    assert all(r.sku == "PRINT" and r.available == 0 for r in refused)
    assert stock_of(buyers_engine, "PRINT") == 0


def test_concurrent_buyers_of_two_units_each_leave_the_odd_one(hooks, catalog, buyers_engine):
    catalog.product("Limited Print", sku="PRINT", stock=7)

    outcomes = _concurrent(buyers_engine, hooks, [[Line("PRINT", 2)]] * BUYERS)

    assert outcomes.count("sold") == 3
    refused = [o for o in outcomes if isinstance(o, OutOfStock)]
    assert len(refused) == BUYERS - 3
    # Whoever lost saw what was left when they tried: 1 unit, never a negative.
    assert {r.available for r in refused} == {1}
    assert stock_of(buyers_engine, "PRINT") == 1


def test_orders_naming_the_same_skus_in_any_order_do_not_deadlock(hooks, catalog, buyers_engine):
    catalog.product("Mug", sku="MUG", stock=100)
    catalog.product("Tent", sku="TENT", stock=100)
    orders = [
        [Line("MUG", 1), Line("TENT", 1)] if i % 2 else [Line("TENT", 1), Line("MUG", 1)]
        for i in range(40)
    ]

    outcomes = _concurrent(buyers_engine, hooks, orders)

    assert outcomes == ["sold"] * 40
    assert stock_of(buyers_engine, "MUG") == 60
    assert stock_of(buyers_engine, "TENT") == 60
