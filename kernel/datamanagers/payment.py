"""A payment authorization joined to the request's ``transaction``.

The rules, from the traps measured on this machine (DESIGN.md):

* ``sortKey`` sorts before zope.sqlalchemy (``~sqlalchemy:…``), which issues the real
  PostgreSQL COMMIT in its ``tpc_vote``: this manager votes first, so its check can
  still veto the commit.
* ``tpc_vote`` checks the authorization locally (no network call: row locks are held).
* ``tpc_finish`` runs once PostgreSQL has committed: it captures, and never raises. A
  failed capture is recorded for ``mercato reconcile``, which finishes it later.
* ``abort``/``tpc_abort`` void the authorization, except when pyramid_retry is about to
  run the request again: the retry reuses this very authorization (the ledger finds
  it), so voiding it would make the retry fail or authorize twice.
* ``abort`` is also called *after* a successful commit (the transaction cleans its
  resources once its after-commit hooks ran): once finished, the manager ignores it —
  or it would void a paid order.

The provider is reached only through ``mercato.payments`` (the payment hooks, with
their idempotency keys), so this works for any payment plugin. What happened is written
through a ``PaymentLedger`` (the kernel's is ``mercato.orders.checkout.OrderLedger``),
in transactions of its own.
"""

import logging
from collections.abc import Callable
from typing import Protocol

from transaction.interfaces import IDataManager
from zope.interface import implementer

from .. import payments

log = logging.getLogger(__name__)

ACTIVE, VOTED, FINISHED, ABORTED = "active", "voted", "finished", "aborted"


class PaymentNotHeld(Exception):
    """tpc_vote found no authorization covering the order: the commit is vetoed."""


class PaymentLedger(Protocol):
    def captured(self, payment, result) -> None: ...
    def capture_failed(self, payment, error: str) -> None: ...
    def voided(self, payment, result) -> None: ...
    def void_failed(self, payment, error: str) -> None: ...


@implementer(IDataManager)
class PaymentDataManager:
    """Void on abort, capture (when ``capture``) after commit, for one ``payment``.

    ``payment`` is a ``mercato.payments.PaymentInfo``. ``retry_follows`` says,
    when the transaction aborts, whether the same request is about to be retried.
    ``void_on_abort=False`` is for a transaction that only captures an authorization
    it did not create (a webhook): aborting it must leave the payment as it was.
    """

    transaction_manager = None

    def __init__(
        self,
        *,
        registry,
        ledger: PaymentLedger,
        payment,
        capture: bool,
        expected_amount: int | None = None,
        retry_follows: Callable[[object], bool] = lambda txn: False,
        void_on_abort: bool = True,
    ):
        self.registry = registry
        self.ledger = ledger
        self.payment = payment
        self.capture = capture
        self.expected_amount = payment.amount if expected_amount is None else expected_amount
        self.retry_follows = retry_follows
        self.void_on_abort = void_on_abort
        self.state = ACTIVE

    def join(self, transaction_manager) -> "PaymentDataManager":
        self.transaction_manager = transaction_manager
        transaction_manager.get().join(self)
        return self

    def sortKey(self) -> str:
        # "mercato.payment" < "~sqlalchemy": vote before PostgreSQL commits.
        return f"mercato.payment:{self.payment.id}"

    # -- two-phase commit ------------------------------------------------------

    def tpc_begin(self, txn) -> None:
        pass

    def commit(self, txn) -> None:
        pass

    def tpc_vote(self, txn) -> None:
        held = self.payment.status in ("authorized", "requires_action", "captured")
        if not held or self.payment.amount != self.expected_amount:
            raise PaymentNotHeld(
                f"payment {self.payment.id} is {self.payment.status} for {self.payment.amount}, "
                f"not an authorization of {self.expected_amount}"
            )
        self.state = VOTED

    def tpc_finish(self, txn) -> None:
        self.state = FINISHED
        if self.capture and self.payment.status == "authorized":
            self._capture()

    def tpc_abort(self, txn) -> None:
        self._abort(txn)

    def abort(self, txn) -> None:
        self._abort(txn)

    def savepoint(self):
        # An authorization belongs to the whole transaction: rolling back to a savepoint
        # keeps it (the final commit or abort decides).
        return _KeepSavepoint()

    # -- outcomes --------------------------------------------------------------

    def _abort(self, txn) -> None:
        if self.state in (FINISHED, ABORTED):
            return
        self.state = ABORTED
        if not self.void_on_abort:
            return
        try:
            if self.retry_follows(txn):
                log.info("payment %s kept for the retried request", self.payment.id)
                return
        except Exception:
            log.exception("payment %s: could not tell whether a retry follows", self.payment.id)
        self._void()

    def _capture(self) -> None:
        # Never raises: after the commit the order exists and is authorized; a failed
        # capture is recorded and reconcile captures it later.
        result, why = payments.capture(self.registry, self.payment)
        if result is None:
            log.error("payment %s: capture after commit failed: %s", self.payment.id, why)
            self._safely(self.ledger.capture_failed, self.payment, why)
            return
        self._safely(self.ledger.captured, self.payment, result)

    def _void(self) -> None:
        result, why = payments.void(self.registry, self.payment)
        if result is None:
            log.error("payment %s: void on abort failed: %s", self.payment.id, why)
            self._safely(self.ledger.void_failed, self.payment, why)
            return
        self._safely(self.ledger.voided, self.payment, result)

    @staticmethod
    def _safely(record, *args) -> None:
        try:
            record(*args)
        except Exception:
            # The ledger's database is down too: reconcile finds the payment by its
            # provider state later. Nothing may escape a data manager's finish/abort.
            log.exception("payment ledger: could not record %s", record.__name__)

    def __repr__(self) -> str:
        return f"<PaymentDataManager payment={self.payment.id} state={self.state}>"


class _KeepSavepoint:
    def rollback(self) -> None:
        pass
