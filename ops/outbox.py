"""Delivering the outbox: what the kernel's ``enqueue`` recorded (``mercato.outbox``), to
every plugin's ``mercato_notify``.

- ``Behind``: right after the commit, on a thread of the process, so that an email's
  SMTP conversation or a webhook's POST never holds up the response;
- ``Courier``: one delivery per (message, plugin), each in a transaction of its own,
  failures retried with exponential backoff, then marked dead with their error;
- ``Worker``: ``mercato worker``, the courier on a loop, for what a process left
  undelivered (it stopped, its queue was full) and for the retries;
- the queue shown to staff (``mercato outbox list|retry`` and the admin, through
  ``entries``, ``retry`` and ``outbox_counts``).

Delivery is exactly once unless a process dies between a plugin's success and the
commit that records it; that delivery is then repeated (at least once, never lost).
"""

import atexit
import logging
import os
import queue
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from mercato.outbox import (
    DEAD,
    DELIVER_KEY,
    PENDING,
    SENT,
    OutboxDelivery,
    OutboxMessage,
    notify_plugins,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# 30 s, 1 min, 2 min … capped at an hour: eight attempts span about an hour, long
# enough to ride out an SMTP server's restart or a provider's short outage.
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
ERROR_LENGTH = 2000
BEHIND_KEY = "mercato.outbox.behind"
# At exit, what is queued gets this long; the worker delivers the rest.
EXIT_DRAIN_S = 5.0


def now_utc() -> datetime:
    return datetime.now(UTC)


def call_plugin(registry, plugin_name: str, event: str, payload: dict) -> None:
    """Call ``mercato_notify`` of one plugin only: each plugin's delivery is its own row."""
    pm = registry.plugin_manager
    others = [plugin for name, plugin in pm.list_name_plugin() if name != plugin_name]
    notify = pm.subset_hook_caller("mercato_notify", remove_plugins=others)
    notify(event=event, payload=payload, registry=registry)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]


@dataclass
class Courier:
    """Fans messages out to the plugins and delivers due deliveries, each in a
    transaction of its own that holds the delivery's row lock while its plugin runs."""

    registry: object
    max_attempts: int = MAX_ATTEMPTS
    batch: int = 100

    def deliver_message(self, message_id: int) -> None:
        """Make one message's deliveries now (the after-commit path): ``enqueue`` made
        one per plugin in the transaction that committed, so there are that many at
        most, and no last look for one more."""
        now = now_utc()
        for _plugin in notify_plugins(self.registry):
            if not self.deliver_next(now, message_id=message_id):
                break

    def dispatch(self, now: datetime, message_id: int | None = None) -> int:
        """Create one delivery per notify plugin for messages not yet dispatched."""
        plugins = notify_plugins(self.registry)
        query = (
            select(OutboxMessage.id)
            .where(OutboxMessage.dispatched_at.is_(None))
            .order_by(OutboxMessage.id)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )
        if message_id is not None:
            query = query.where(OutboxMessage.id == message_id)
        with Session(self.registry.db_engine) as session, session.begin():
            ids = session.scalars(query).all()
            session.add_all(
                OutboxDelivery(message_id=mid, plugin=plugin, next_attempt_at=now)
                for mid in ids
                for plugin in plugins
            )
            if ids:
                session.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(dispatched_at=now)
                )
        return len(ids)

    def deliver_next(self, now: datetime, message_id: int | None = None) -> bool:
        """Attempt the oldest due delivery (of ``message_id`` only, if given); False
        when none is due."""
        plugins = notify_plugins(self.registry)
        if not plugins:
            return False
        query = (
            # The message with its delivery, in one statement; only the delivery locked.
            select(OutboxDelivery, OutboxMessage)
            .join(OutboxDelivery.message)
            .where(
                OutboxDelivery.status == PENDING,
                OutboxDelivery.next_attempt_at <= now,
                # Rows of a plugin this worker does not run wait for one that does.
                OutboxDelivery.plugin.in_(plugins),
            )
            .order_by(OutboxDelivery.next_attempt_at, OutboxDelivery.id)
            .limit(1)
            .with_for_update(of=OutboxDelivery, skip_locked=True)
        )
        if message_id is not None:
            query = query.where(OutboxDelivery.message_id == message_id)
        with Session(self.registry.db_engine) as session, session.begin():
            found = session.execute(query).first()
            if found is None:
                return False
            self.attempt(found.OutboxDelivery, now)
        return True

    def attempt(self, delivery: OutboxDelivery, now: datetime) -> bool:
        """Call the delivery's plugin and record the outcome on the (locked) row."""
        message = delivery.message
        delivery.attempts += 1
        try:
            call_plugin(self.registry, delivery.plugin, message.event, message.payload)
        except Exception as exc:
            delivery.last_error = _describe(exc)
            if delivery.attempts >= self.max_attempts:
                delivery.status = DEAD
                log.error(
                    "outbox: %s #%s to %s is dead after %s attempts: %s",
                    message.event,
                    message.id,
                    delivery.plugin,
                    delivery.attempts,
                    delivery.last_error,
                )
            else:
                delivery.next_attempt_at = now + retry_delay(delivery.attempts)
                log.warning(
                    "outbox: %s #%s to %s failed (attempt %s), retry at %s: %s",
                    message.event,
                    message.id,
                    delivery.plugin,
                    delivery.attempts,
                    delivery.next_attempt_at.isoformat(timespec="seconds"),
                    delivery.last_error,
                )
            return False
        delivery.status = SENT
        delivery.sent_at = now
        log.info("outbox: %s #%s delivered to %s", message.event, message.id, delivery.plugin)
        return True


class Behind:
    """Delivers committed messages on a thread of the process, behind the responses.

    In the request, an email took its SMTP conversation and a webhook its POST (up to
    their timeouts) out of the shopper's wait, holding a pooled connection meanwhile.
    What this thread has not delivered when the process dies, or what finds its queue
    full, is still ``pending`` in the table: ``mercato worker`` delivers it.

    The thread ends after ``IDLE_S`` without work and starts again with the next
    message: a thread that lived for ever would keep its app (engine, clients,
    sockets) alive with it, one per app a process ever made (a test run made
    hundreds, and ran out of file descriptors)."""

    IDLE_S = 5.0

    def __init__(self, registry, capacity: int = 1000):
        self.registry = registry
        self.capacity = capacity
        self._pid = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        _LIVE.add(self)

    def submit(self, message_id: int) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a worker forked from the parent
                self._pid = os.getpid()
                self._queue = queue.Queue(self.capacity)
                self._thread = None
            try:
                self._queue.put_nowait(message_id)
            except queue.Full:
                log.warning("outbox: message %s left to the worker (queue full)", message_id)
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                message_id = self._queue.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:  # submit() puts and looks at the thread under it
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            try:
                Courier(self.registry).deliver_message(message_id)
            except Exception:
                # The message is safely recorded: the worker delivers it.
                log.exception("outbox: delivering message %s after commit failed", message_id)
            finally:
                self._queue.task_done()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until what was submitted is delivered (or failed); False on timeout."""
        if self._pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        done = self._queue.all_tasks_done
        with done:
            while self._queue.unfinished_tasks:
                if not done.wait(max(0.0, deadline - time.monotonic())):
                    return False
        return True


# Every app's ``Behind`` in this process, without keeping one alive: drained at exit.
_LIVE: "weakref.WeakSet[Behind]" = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:
    for deliveries in list(_LIVE):
        deliveries.drain(EXIT_DRAIN_S)


def includeme(config) -> None:
    """Deliver each committed message on the app's ``Behind`` thread (``DELIVER_KEY``)."""
    deliveries = Behind(config.registry)
    config.registry[BEHIND_KEY] = deliveries
    config.registry[DELIVER_KEY] = deliveries.submit


class OutboxError(Exception):
    """A retry that cannot be done; the message says why, in plain words."""


class Worker(Courier):
    """The courier on a loop: ``mercato worker``."""

    def run_once(self, now: datetime | None = None) -> int:
        """One pass: dispatch new messages, attempt up to ``batch`` due deliveries, then
        let plugins do their own due work (``mercato_worker_pass``).

        ``now`` decides what is due (tests pass a later time instead of waiting).
        Returns the number of deliveries (and plugins' items) attempted.
        """
        now = now or now_utc()
        self.dispatch(now)
        attempted = 0
        while attempted < self.batch and self.deliver_next(now):
            attempted += 1
        # Plugins' own schedules (webhooks retried for a day) ride on the same loop.
        done = self.registry.hooks.mercato_worker_pass(registry=self.registry, now=now)
        return attempted + sum(count or 0 for count in done)

    def run_forever(self, stop: threading.Event, interval: float = 2.0) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                # PostgreSQL restarting, say: keep the worker alive and try again.
                log.exception("outbox worker: pass failed")
                busy = 0
            if not busy:
                stop.wait(interval)


@dataclass(frozen=True)
class OutboxEntry:
    """A delivery as staff see it; ``delivery_id`` is None (and ``status`` ``"new"``)
    for a message no worker has fanned out to the plugins yet."""

    delivery_id: int | None
    message_id: int
    event: str
    recipient: str | None
    plugin: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime


def entries(session: Session, *, dead: bool = False, limit: int = 100) -> list[OutboxEntry]:
    """Pending deliveries (and messages not dispatched yet), oldest first; or, with
    ``dead``, the deliveries that gave up, newest first."""
    found = []
    if not dead:
        new = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dispatched_at.is_(None))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        found += [_entry(message) for message in new]
    rows = session.execute(
        select(OutboxDelivery, OutboxMessage)
        .join(OutboxDelivery.message)
        .where(OutboxDelivery.status == (DEAD if dead else PENDING))
        .order_by(OutboxDelivery.id.desc() if dead else OutboxDelivery.next_attempt_at)
        .limit(limit - len(found))
    )
    found += [_entry(message, delivery) for delivery, message in rows]
    return found


def _entry(message: OutboxMessage, delivery: OutboxDelivery | None = None) -> OutboxEntry:
    return OutboxEntry(
        delivery_id=delivery and delivery.id,
        message_id=message.id,
        event=message.event,
        recipient=message.payload.get("email"),
        plugin=delivery and delivery.plugin,
        status=delivery.status if delivery else "new",
        attempts=delivery.attempts if delivery else 0,
        next_attempt_at=delivery.next_attempt_at
        if delivery and delivery.status == PENDING
        else None,
        last_error=delivery and delivery.last_error,
        created_at=message.created_at,
    )


def retry(registry, delivery_id: int) -> str | None:
    """Attempt a pending or dead delivery now, with a fresh count of attempts.

    Returns None when it was delivered, else the error (the worker goes on retrying
    it). Raises ``OutboxError`` when it cannot be retried.
    """
    with Session(registry.db_engine) as session, session.begin():
        delivery = session.scalars(
            select(OutboxDelivery)
            .where(OutboxDelivery.id == delivery_id)
            .with_for_update(skip_locked=True)
        ).first()
        if delivery is None:
            if session.get(OutboxDelivery, delivery_id) is None:
                raise OutboxError(f"there is no outbox delivery {delivery_id}")
            raise OutboxError(f"delivery {delivery_id} is being delivered right now")
        if delivery.status == SENT:
            raise OutboxError(f"delivery {delivery_id} was already sent; retrying would repeat it")
        if delivery.plugin not in notify_plugins(registry):
            raise OutboxError(
                f"delivery {delivery_id} is for plugin '{delivery.plugin}', "
                "which is not enabled in this configuration"
            )
        delivery.status = PENDING
        delivery.attempts = 0
        delivered = Courier(registry).attempt(delivery, now_utc())
        return None if delivered else delivery.last_error


@dataclass(frozen=True)
class OutboxCounts:
    pending: int  # messages not fanned out yet, and deliveries waiting for a retry
    dead: int


def outbox_counts(session: Session) -> OutboxCounts:
    """How many deliveries wait and how many gave up: what ``entries`` would list."""
    undispatched = session.scalar(select(func.count()).where(OutboxMessage.dispatched_at.is_(None)))
    by_status = dict(
        session.execute(
            select(OutboxDelivery.status, func.count())
            .where(OutboxDelivery.status.in_((PENDING, DEAD)))
            .group_by(OutboxDelivery.status)
        ).all()
    )
    return OutboxCounts(undispatched + by_status.get(PENDING, 0), by_status.get(DEAD, 0))


PRUNE_BATCH = 5_000


def prune(engine, older_than: timedelta, progress=lambda what, count: None) -> dict[str, int]:
    """Delete what no one needs any more, older than ``older_than``: outbox messages
    whose every delivery was sent (their deliveries with them; a message with a pending
    or dead delivery stays for the worker and for staff), and the payment providers'
    event ids kept to refuse a replayed webhook (Stripe retries for three days).

    In batches of their own transactions, so a first prune of a large table never
    holds many row locks for long; ``progress(what, deleted so far)`` after each."""
    cutoff = datetime.now(UTC) - older_than
    sent_messages = text(
        "DELETE FROM outbox_messages WHERE id IN (SELECT m.id FROM outbox_messages m"
        " WHERE m.created_at < :cutoff AND m.dispatched_at IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM outbox_deliveries d WHERE d.message_id = m.id AND d.status <> :sent)"
        " ORDER BY m.id LIMIT :batch FOR UPDATE SKIP LOCKED)"
    )
    provider_events = text(
        "DELETE FROM payment_provider_events WHERE ctid IN (SELECT ctid FROM"
        " payment_provider_events WHERE received_at < :cutoff LIMIT :batch)"
    )
    deleted = {}
    for what, statement in (("messages", sent_messages), ("provider events", provider_events)):
        deleted[what] = 0
        while True:
            with engine.begin() as connection:
                params = {"cutoff": cutoff, "batch": PRUNE_BATCH, "sent": SENT}
                count = connection.execute(statement, params).rowcount
            deleted[what] += count
            progress(what, deleted[what])
            if count < PRUNE_BATCH:
                break
    return deleted


# Their names in the public API, where "entries" and "retry" alone would say nothing.
outbox_entries = entries
retry_delivery = retry
