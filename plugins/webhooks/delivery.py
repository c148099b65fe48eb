"""Sending recorded events: one POST per delivery, signed, with a short timeout, each
attempt written to the delivery log; a failure is retried with exponential backoff
(``first_retry``, doubling, at most ``longest_retry`` apart) until ``give_up_after``
has passed since the event, then the delivery is dead.

Each delivery is attempted in a transaction of its own that holds its row lock (``FOR
UPDATE SKIP LOCKED``) while the POST runs: the after-commit attempt, any number of
``mercato worker`` processes and the admin's retry button never send it twice at once.
A delivery is at least once: a receiver that answered 2xx, when the process dies before
the outcome is committed, gets the event again (same ``Mercato-Event-Id``).
"""

import logging
import time
from datetime import UTC, datetime, timedelta

import requests
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .models import DEAD, DELIVERED, PENDING, Attempt, Delivery, Endpoint
from .targets import TargetRefused, check_target
from .verify import HEADER, sign

log = logging.getLogger(__name__)

BATCH = 50  # deliveries per worker pass
ERROR_LENGTH = 1000
USER_AGENT = "Mercato-Webhooks/1"


class RetryRefused(Exception):
    """A retry the admin asked for that cannot be done; the message says why."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def settings_of(registry) -> dict:
    return registry.settings["mercato.webhooks"]


def retry_delay(settings: dict, attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    seconds = settings["first_retry"] * 2 ** min(attempts - 1, 30)
    return timedelta(seconds=min(seconds, settings["longest_retry"]))


def deliver_due(registry, now: datetime, event_id: str | None = None) -> int:
    """Attempt up to a batch of due deliveries (of ``event_id`` only, if given)."""
    attempted = 0
    while attempted < BATCH and _deliver_next(registry, now, event_id):
        attempted += 1
    return attempted


def prune(registry, now: datetime) -> int:
    """Delete events older than ``keep_days`` with no delivery still pending, their
    deliveries and delivery logs with them (``ON DELETE CASCADE``): a batch at a time,
    looked for once an hour, or on the next pass while a backlog fills whole batches."""
    if now < getattr(registry, PRUNE_DUE, now):
        return 0
    cutoff = now - timedelta(days=settings_of(registry)["keep_days"])
    with registry.db_engine.begin() as connection:
        params = {"cutoff": cutoff, "pending": PENDING, "batch": PRUNE_BATCH}
        deleted = connection.execute(PRUNE, params).rowcount
    setattr(registry, PRUNE_DUE, now if deleted == PRUNE_BATCH else now + PRUNE_EVERY)
    return deleted


# By physical position, not id (random) nor created_at (no index): the oldest rows are
# near the start of the heap, where the scan finds a batch and stops.
PRUNE = text(
    "DELETE FROM webhooks_events WHERE ctid IN (SELECT e.ctid FROM webhooks_events e"
    " WHERE e.created_at < :cutoff AND NOT EXISTS (SELECT 1 FROM webhooks_deliveries d"
    " WHERE d.event_id = e.id AND d.status = :pending) LIMIT :batch)"
)
PRUNE_BATCH = 1_000
PRUNE_EVERY = timedelta(hours=1)
PRUNE_DUE = "mercato_webhooks_prune_due"  # on the registry: when to look again


def _deliver_next(registry, now: datetime, event_id: str | None) -> bool:
    query = (
        select(Delivery)
        .join(Delivery.endpoint)
        # A disabled endpoint's deliveries wait, and die once their day is over.
        .where(Delivery.status == PENDING, Delivery.next_attempt_at <= now, Endpoint.enabled)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(1)
        .with_for_update(of=Delivery, skip_locked=True)
    )
    if event_id is not None:
        query = query.where(Delivery.event_id == event_id)
    with Session(registry.db_engine) as session, session.begin():
        delivery = session.scalars(query).first()
        if delivery is None:
            return False
        attempt(settings_of(registry), delivery, now)
    return True


def attempt(settings: dict, delivery: Delivery, now: datetime) -> bool:
    """POST the delivery's event once and record the outcome on the (locked) row."""
    event, endpoint = delivery.event, delivery.endpoint
    delivery.attempts += 1
    body = event.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Mercato-Event-Id": event.id,
        "Mercato-Event-Type": event.type,
        "Mercato-Delivery-Attempt": str(delivery.attempts),
        # Signed at send time, not at `now` (a test's clock): receivers check freshness.
        HEADER: sign(endpoint.secret, body),
    }
    started = time.perf_counter()
    status_code, error = post(endpoint.url, body, headers, settings)
    delivery.log.append(
        Attempt(
            attempted_at=now_utc(),
            status_code=status_code,
            error=error,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
    )
    delivery.last_status_code, delivery.last_error = status_code, error
    if error is None:
        delivery.status, delivery.delivered_at = DELIVERED, now_utc()
        log.info("webhooks: %s %s delivered to endpoint %s", event.type, event.id, endpoint.id)
        return True
    next_attempt = now + retry_delay(settings, delivery.attempts)
    if next_attempt > event.created_at + timedelta(seconds=settings["give_up_after"]):
        delivery.status = DEAD
        log.error(
            "webhooks: %s %s to endpoint %s is dead after %s attempts: %s",
            event.type, event.id, endpoint.id, delivery.attempts, error,
        )  # fmt: skip
    else:
        delivery.next_attempt_at = next_attempt
        log.warning(
            "webhooks: %s %s to endpoint %s failed (attempt %s), retry at %s: %s",
            event.type, event.id, endpoint.id, delivery.attempts,
            next_attempt.isoformat(timespec="seconds"), error,
        )  # fmt: skip
    return False


def post(url: str, body: bytes, headers: dict, settings: dict) -> tuple[int | None, str | None]:
    """``(status code, error)``: error is None for a 2xx answer."""
    try:
        check_target(url, settings["allow_private_targets"])
    except TargetRefused as exc:
        return None, str(exc)
    try:
        # stream=True: the receiver's answer is never read, however large it is.
        with requests.post(
            url,
            data=body,
            headers=headers,
            timeout=settings["timeout"],
            allow_redirects=False,
            stream=True,
        ) as response:
            code = response.status_code
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
    if 200 <= code < 300:
        return code, None
    return code, f"HTTP {code}: the receiver did not answer 2xx"


def retry_now(registry, delivery_id: int) -> Delivery:
    """Attempt a pending or dead delivery now (the admin's button); returns it as it
    ended. Raises ``RetryRefused`` when it cannot be retried."""
    with Session(registry.db_engine, expire_on_commit=False) as session, session.begin():
        delivery = session.scalars(
            select(Delivery).where(Delivery.id == delivery_id).with_for_update(skip_locked=True)
        ).first()
        if delivery is None:
            if session.get(Delivery, delivery_id) is None:
                raise RetryRefused("There is no such delivery.")
            raise RetryRefused("This delivery is being sent right now.")
        if delivery.status == DELIVERED:
            raise RetryRefused("This event was delivered already: the receiver has it.")
        delivery.status = PENDING
        attempt(settings_of(registry), delivery, now_utc())
        return delivery
