"""The transactional outbox: notifications recorded in the same transaction as the change
that caused them, handed to every plugin's ``mercato_notify`` only once it has committed.

``enqueue(dbsession, event, payload)`` writes a message row (and, for a session of an
app, a delivery row per notify plugin) in the caller's transaction; once it commits,
the message's id goes to the delivery the app registered under ``DELIVER_KEY``; a
rolled-back transaction leaves no row and sends nothing. Delivery is operations'
(``mercato.ops.outbox``, the essential ops plugin): on a thread behind the response, so
that a slow mail server or webhook receiver never holds up a shopper, with retries and
backoff, then by ``mercato worker`` for what a process left; and the staff's view of it.

Delivery is exactly once unless a process dies between a plugin's success and the
commit that records it; that delivery is then repeated (at least once, never lost).
"""

import json
from datetime import UTC, datetime

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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from zope.sqlalchemy.datamanager import ZopeTransactionEvents

from .db import REGISTRY_KEY, Base

# Where the app keeps what delivers a committed message: ``deliver(message_id)``.
DELIVER_KEY = "mercato.outbox.deliver"

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
    registry = dbsession.info.get(REGISTRY_KEY)
    if registry is not None:
        # Fanned out in the caller's transaction: after the commit there are only the
        # deliveries to make, not first a transaction that creates them.
        now = datetime.now(UTC)
        message.dispatched_at = now
        message.deliveries = [
            OutboxDelivery(plugin=plugin, next_attempt_at=now)
            for plugin in notify_plugins(registry)
        ]
    dbsession.add(message)
    dbsession.flush()
    current = _transaction_of(dbsession)
    if registry is not None and current is not None:
        current.addAfterCommitHook(_deliver_after_commit, args=(registry, message.id))


def notify_plugins(registry) -> list[str]:
    """Names of the enabled plugins that implement ``mercato_notify``: a message gets
    a delivery for each."""
    return [impl.plugin_name for impl in registry.hooks.mercato_notify.get_hookimpls()]


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
    deliver = registry.get(DELIVER_KEY)
    if committed and deliver is not None:
        deliver(message_id)
