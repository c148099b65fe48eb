"""The outbox as operations see it: the ``mercato worker`` loop that delivers what the
after-commit attempt could not, and the queue shown to staff (``mercato outbox
list|retry`` and the admin, through ``entries``, ``retry`` and ``outbox_counts``).

The mechanism itself (the tables, ``enqueue``, delivery with backoff) is the kernel's:
``mercato.outbox``.
"""

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mercato.outbox import (
    DEAD,
    PENDING,
    SENT,
    Courier,
    OutboxDelivery,
    OutboxMessage,
    notify_plugins,
    now_utc,
)

log = logging.getLogger(__name__)


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


# Their names in the public API, where "entries" and "retry" alone would say nothing.
outbox_entries = entries
retry_delivery = retry
