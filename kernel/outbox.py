"""The transactional outbox: notifications recorded in the same transaction as the change
that caused them, handed to every plugin's ``mercato_notify`` only once it has committed.

``enqueue(dbsession, event, payload)`` writes a message row in the caller's transaction
and asks that transaction to deliver it right after a successful commit; a rolled-back
transaction leaves no row and sends nothing. A failed delivery is retried with
exponential backoff, then marked dead with its error. ``Courier`` is that delivery; the
``mercato worker`` loop that delivers what the after-commit attempt could not, and the
staff's view of the queue (``mercato outbox list|retry``, the admin), are operations:
``mercato.ops.outbox``.

Delivery is exactly once unless a process dies between a plugin's success and the
commit that records it; that delivery is then repeated (at least once, never lost).
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from zope.sqlalchemy.datamanager import ZopeTransactionEvents

from .db import REGISTRY_KEY, Base

log = logging.getLogger(__name__)


MAX_ATTEMPTS = 8
# 30 s, 1 min, 2 min … capped at an hour: eight attempts span about an hour, long
# enough to ride out an SMTP server's restart or a provider's short outage.
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
ERROR_LENGTH = 2000

PENDING, SENT, DEAD = "pending", "sent", "dead"


class OutboxMessage(Base):
    """One event, written in the transaction of the change that caused it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The worker's scan for messages not yet fanned out to the plugins.
        Index(
            "ix_outbox_messages_undispatched", "id", postgresql_where=text("dispatched_at IS NULL")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set once a delivery row exists for every plugin that implements mercato_notify.
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    deliveries: Mapped[list["OutboxDelivery"]] = relationship(back_populates="message")


class OutboxDelivery(Base):
    """One message to one plugin.

    A row per (message, plugin) keeps each plugin's outcome, attempts and error apart:
    when a Slack notifier fails, only its row is retried, and the customer's email that
    the SMTP plugin already sent is never sent again. The row is locked (``FOR UPDATE
    SKIP LOCKED``) for as long as its plugin runs, so a second worker skips it instead
    of delivering it twice; a crashed worker's lock goes with its connection.
    """

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "plugin"),
        CheckConstraint(f"status IN ('{PENDING}', '{SENT}', '{DEAD}')", name="status"),
        Index(
            "ix_outbox_deliveries_due",
            "next_attempt_at",
            postgresql_where=text(f"status = '{PENDING}'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True
    )
    plugin: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    message: Mapped[OutboxMessage] = relationship(back_populates="deliveries")


# ---------------------------------------------------------------------------
# Enqueue
# ---------------------------------------------------------------------------


def enqueue(dbsession: Session, event: str, payload: dict) -> None:
    """Record ``event`` with ``payload`` in ``dbsession``'s transaction.

    ``dbsession`` is joined to a ``transaction`` by zope.sqlalchemy (``request.dbsession``
    is). Right after that transaction commits, the message is delivered to every
    enabled plugin's ``mercato_notify``; if it aborts, nothing is kept and nothing is
    sent. ``payload`` must be JSON (Money as ``Money.to_json()``). A session that does not
    know its app (see ``REGISTRY_KEY``) or is not joined to a transaction still records
    the message: ``mercato worker`` delivers it.
    """
    try:
        # A copy the caller cannot change afterwards, and a clear error for a Money
        # or a datetime left in the payload.
        payload = json.loads(json.dumps(payload))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"outbox payload for {event!r} is not JSON: {exc}") from None
    message = OutboxMessage(event=event, payload=payload)
    dbsession.add(message)
    dbsession.flush()
    registry = dbsession.info.get(REGISTRY_KEY)
    current = _transaction_of(dbsession)
    if registry is not None and current is not None:
        current.addAfterCommitHook(_deliver_after_commit, args=(registry, message.id))


def _transaction_of(dbsession: Session):
    """The ``transaction`` that zope.sqlalchemy joined ``dbsession`` to, if any.

    ``register(session, transaction_manager=tm)`` leaves its listener on the session
    (or its class); a request's manager and a test's explicit one are both found so.
    """
    for listener in dbsession.dispatch.after_begin:
        events = getattr(listener, "__self__", None)
        if isinstance(events, ZopeTransactionEvents):
            return events.transaction_manager.get()
    return None


def _deliver_after_commit(committed: bool, registry, message_id: int) -> None:
    if not committed:
        return
    try:
        Courier(registry).deliver_message(message_id)
    except Exception:
        # The response must not fail for a notification: the message is safely
        # recorded and the worker will deliver it.
        log.exception("outbox: delivering message %s after commit failed", message_id)


# ---------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(UTC)


def notify_plugins(registry) -> list[str]:
    """Names of the enabled plugins that implement ``mercato_notify``."""
    return [impl.plugin_name for impl in registry.hooks.mercato_notify.get_hookimpls()]


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
        """Dispatch and deliver one message now (the after-commit path)."""
        now = now_utc()
        self.dispatch(now, message_id=message_id)
        while self.deliver_next(now, message_id=message_id):
            pass

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
            select(OutboxDelivery)
            .where(
                OutboxDelivery.status == PENDING,
                OutboxDelivery.next_attempt_at <= now,
                # Rows of a plugin this worker does not run wait for one that does.
                OutboxDelivery.plugin.in_(plugins),
            )
            .order_by(OutboxDelivery.next_attempt_at, OutboxDelivery.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if message_id is not None:
            query = query.where(OutboxDelivery.message_id == message_id)
        with Session(self.registry.db_engine) as session, session.begin():
            delivery = session.scalars(query).first()
            if delivery is None:
                return False
            self.attempt(delivery, now)
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
