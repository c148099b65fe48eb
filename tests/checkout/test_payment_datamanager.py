"""The payment data manager and the traps of ``transaction`` measured on this machine,
with a real PostgreSQL session joined by zope.sqlalchemy."""

from types import SimpleNamespace

import pluggy
import pytest
from sqlalchemy import func, select

from mercato import PaymentInfo, PaymentResult, hookimpl, hookspecs
from mercato.datamanagers.payment import PaymentDataManager, PaymentNotHeld
from mercato.orders.models import ProviderEvent


class Provider:
    """A payment plugin that records what it is asked."""

    def __init__(self):
        self.calls: list[str] = []

    @hookimpl
    def mercato_capture_payment(self, payment, amount, idempotency_key):
        self.calls.append(idempotency_key)
        return PaymentResult("captured", "test", payment.reference, amount)

    @hookimpl
    def mercato_void_payment(self, payment, idempotency_key):
        self.calls.append(idempotency_key)
        return PaymentResult("voided", "test", payment.reference)


class Ledger:
    def __init__(self):
        self.events: list[str] = []

    def captured(self, payment, result):
        self.events.append("captured")

    def capture_failed(self, payment, error):
        self.events.append("capture_failed")

    def voided(self, payment, result):
        self.events.append("voided")

    def void_failed(self, payment, error):
        self.events.append("void_failed")


@pytest.fixture
def provider():
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    provider = Provider()
    pm.register(provider)
    provider.hooks = pm.hook
    return provider


def payment(status: str = "authorized") -> PaymentInfo:
    return PaymentInfo(1, "chk", 1, "test", "test_card", "pay_1", status, 900, "EUR")


def joined(provider, ledger, manager, status="authorized") -> PaymentDataManager:
    registry = SimpleNamespace(hooks=provider.hooks)
    return PaymentDataManager(
        registry=registry, ledger=ledger, payment=payment(status), capture=True
    ).join(manager)


def events_in_db(session) -> int:
    return session.scalar(select(func.count()).select_from(ProviderEvent))


def test_it_sorts_before_zope_sqlalchemy_so_its_vote_can_stop_the_commit(
    tm_session, dbsession, provider
):
    session, manager = tm_session
    ledger = Ledger()
    manager.begin()
    session.add(ProviderEvent(provider="test", event_id="evt_1"))
    session.flush()
    dm = joined(provider, ledger, manager, status="failed")

    with pytest.raises(PaymentNotHeld):
        manager.commit()
    manager.abort()

    assert dm.sortKey() < "~sqlalchemy:"
    assert events_in_db(dbsession) == 0, "PostgreSQL never committed"
    assert provider.calls == ["mercato:chk:1:void"] and ledger.events == ["voided"]


def test_it_captures_after_the_commit_and_ignores_the_abort_that_follows(
    tm_session, dbsession, provider
):
    session, manager = tm_session
    ledger = Ledger()
    txn = manager.begin()
    session.add(ProviderEvent(provider="test", event_id="evt_2"))
    joined(provider, ledger, manager)
    # Any after-commit hook makes transaction call abort() on every resource afterwards.
    txn.addAfterCommitHook(lambda ok: None)

    manager.commit()

    assert events_in_db(dbsession) == 1
    assert provider.calls == ["mercato:chk:1:capture"], "captured once, never voided"
    assert ledger.events == ["captured"]


def test_an_abort_voids_once(tm_session, provider):
    _session, manager = tm_session
    ledger = Ledger()
    manager.begin()
    dm = joined(provider, ledger, manager)

    manager.abort()
    dm.abort(None)

    assert provider.calls == ["mercato:chk:1:void"] and ledger.events == ["voided"]
