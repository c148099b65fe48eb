"""Redis writes that take part in the request's transaction.

``redis_writes(request)`` (or ``join(client, transaction_manager)``) gives the data
manager of the current transaction; writes queued on it reach Redis only if that
transaction commits::

    writes = redis_writes(request)
    writes.call("hincrby", "counter:{shop}", "views", 1)
    writes.run_script(script, keys=["cart:{abc}"], args=[...], on_result=remember)

Why the commands are buffered and applied in ``tpc_finish`` rather than applied at once
and compensated on abort: Redis has no prepare step, so one of the two has to be
chosen. Applying early lets other requests read a change that may still be rolled back,
needs an inverse for every command (the inverse of "set quantity to 3" is "set it back
to what it was", which overwrites a concurrent tab's change), and a crash between the
write and its compensation keeps a change whose transaction never committed. Buffering
has none of these problems: nothing is visible before PostgreSQL has committed, and an
abort simply forgets the buffer.

Its one window is Redis failing between PostgreSQL's COMMIT and ``tpc_finish``: the
writes are then lost, logged and kept in ``errors``, never raised (``tpc_finish`` must
not fail once PostgreSQL has committed). The request then answers the shop's 503 (try
again) instead of the success its view rendered (``lost_writes_tween_factory``): a
shopper is never told a change was made that Redis does not hold (a Redis Cluster
master dying while its replica takes over, a restart). ``tpc_vote`` deliberately does
not PING Redis to narrow that window: the request talked to Redis (its session, its
reads) a moment before, and Redis can fail after a PING as well as before it, so a PING
would cost a round trip on every write request and still leave the window open.

The cost of buffering is that a request does not read its own queued writes back from
Redis; callers that must show the new state compute it themselves (the cart does).

Each command or script is atomic on its own; the buffer as a whole is sent in one
round trip but not inside MULTI, because a Redis Cluster cannot run MULTI across hash
slots. Put what must change together into one script on one key.
"""

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
import transaction.interfaces
from redis.commands.core import Script
from redis.exceptions import RedisError
from zope.interface import implementer

log = logging.getLogger(__name__)

MANAGERS_KEY = "mercato.redis_writes"  # in request.environ: the request's data managers

ACTIVE, VOTED, FINISHED, ABORTED = "active", "voted", "finished", "aborted"


@dataclass
class _Pending:
    apply: Callable[[Any], Any]  # given a client or a pipeline, sends the command
    on_result: Callable[[Any], None] | None
    description: str


@implementer(transaction.interfaces.ISavepointDataManager)
class RedisDataManager:
    """Buffers Redis commands for one transaction and applies them once it commits."""

    def __init__(self, client: redis.Redis, transaction_manager):
        self.client = client
        self.transaction_manager = transaction_manager
        self.state = ACTIVE
        self.errors: list[Exception] = []
        self._pending: list[_Pending] = []

    # -- queueing -------------------------------------------------------------------

    def call(self, command: str, *args, on_result=None, **kwargs) -> None:
        """Queue ``client.<command>(*args, **kwargs)``; ``on_result(value)`` runs after
        the commit with what Redis answered."""
        method = getattr(redis.Redis, command, None)
        if method is None:
            raise AttributeError(f"redis has no command {command!r}")
        self._queue(lambda client: getattr(client, command)(*args, **kwargs), on_result, command)

    def run_script(self, script: Script, keys=(), args=(), on_result=None) -> None:
        """Queue a Lua ``script`` (from ``client.register_script``) on ``keys``."""
        keys, args = list(keys), list(args)
        self._queue(lambda client: script(keys=keys, args=args, client=client), on_result, "script")

    def _queue(self, apply, on_result, description) -> None:
        if self.state != ACTIVE:
            raise RuntimeError(f"cannot queue a Redis write on a {self.state} transaction")
        self._pending.append(_Pending(apply, on_result, description))

    @property
    def pending(self) -> int:
        """How many writes wait for the commit."""
        return len(self._pending)

    # -- IDataManager ---------------------------------------------------------------

    def sortKey(self) -> str:
        # tpc_finish runs in this order, and a resource whose tpc_finish raises stops
        # the ones after it: "!" sorts before zope.sqlalchemy ("~sqlalchemy:…") and any
        # plugin's name, so the Redis writes are applied before anything can skip them.
        return f"!mercato.redis:{id(self)}"

    def abort(self, txn) -> None:
        # transaction calls abort() on every resource again after a successful commit
        # (to clean up after the after-commit hooks): once finished, there is nothing
        # left to undo, and forgetting is all an abort ever does here.
        if self.state != FINISHED:
            self._forget()

    def tpc_begin(self, txn) -> None:
        pass

    def commit(self, txn) -> None:
        pass

    def tpc_vote(self, txn) -> None:
        self.state = VOTED

    def tpc_finish(self, txn) -> None:
        pending, self._pending = self._pending, []
        self.state = FINISHED
        if not pending:
            return
        try:
            results = self._send(pending)
        except Exception as exc:  # tpc_finish must not raise: PostgreSQL has committed
            results = [exc] * len(pending)
        for item, result in zip(pending, results, strict=True):
            if isinstance(result, Exception):
                self.errors.append(result)
                log.error(
                    "Redis write (%s) failed after the transaction committed: %r",
                    item.description,
                    result,
                )
                continue
            if item.on_result is not None:
                try:
                    item.on_result(result)
                except Exception:
                    log.exception("after-commit callback of a Redis write failed")

    def _send(self, pending: list[_Pending]) -> list[Any]:
        if len(pending) == 1:
            # Straight on the client: a pipeline would add a SCRIPT EXISTS round trip.
            return [pending[0].apply(self.client)]
        with self.client.pipeline(transaction=False) as pipe:
            for item in pending:
                item.apply(pipe)
            return pipe.execute(raise_on_error=False)

    def tpc_abort(self, txn) -> None:
        # Also called on every resource when a later one fails in tpc_finish: after
        # ours has applied, the writes are in Redis and cannot be taken back.
        if self.state != FINISHED:
            self._forget()

    def _forget(self) -> None:
        self._pending = []
        self.state = ABORTED

    # -- savepoints -----------------------------------------------------------------

    def savepoint(self):
        """A savepoint whose rollback forgets the writes queued after it."""
        return _Savepoint(self, len(self._pending))


class _Savepoint:
    def __init__(self, manager: RedisDataManager, mark: int):
        self.manager = manager
        self.mark = mark

    def rollback(self) -> None:
        del self.manager._pending[self.mark :]


def join(client: redis.Redis, transaction_manager) -> RedisDataManager:
    """The data manager for ``client`` in the current transaction, joined on first use."""
    txn = transaction_manager.get()
    try:
        return txn.data(client)
    except KeyError:
        manager = RedisDataManager(client, transaction_manager)
        txn.join(manager)
        txn.set_data(client, manager)
        return manager


def redis_writes(request) -> RedisDataManager:
    """Redis writes for ``request``: applied only if its transaction commits."""
    manager = join(request.redis, request.tm)
    managers = request.environ.setdefault(MANAGERS_KEY, [])
    if manager not in managers:
        managers.append(manager)
    return manager


class WritesLost(RedisError):
    """Redis failed to apply writes after the transaction had committed."""


def lost_writes_tween_factory(handler, registry):
    """Over pyramid_tm: once the transaction is over, a request whose Redis writes were
    lost answers the 503 of ``mercato.errors.redis_unavailable``."""

    def lost_writes_tween(request):
        response = handler(request)
        lost = [error for m in request.environ.get(MANAGERS_KEY, ()) for error in m.errors]
        if not lost:
            return response
        try:
            raise WritesLost(f"{len(lost)} Redis write(s) lost after the commit: {lost[0]!r}")
        except WritesLost:
            return request.invoke_exception_view(sys.exc_info())

    return lost_writes_tween
