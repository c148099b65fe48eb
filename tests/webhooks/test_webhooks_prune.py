"""``mercato worker`` deletes events older than ``mercato.webhooks.keep_days`` once no
delivery of theirs is pending, their deliveries and delivery logs with them; on the
worker's clock (``run_once(now=…)``), in the shop as ``mercato demo`` composes it."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mercato.ops.outbox import Worker
from mercato_webhooks.models import Attempt

from .conftest import add_endpoint, deliveries_of, events_of
from .test_webhooks_retries import create_product

DAY = timedelta(days=1)


@pytest.fixture
def webhook_settings(webhook_settings):
    # Kept a day; a failing delivery retried for a week: an old event may still be pending.
    return {
        **webhook_settings,
        "mercato.webhooks.keep_days": "1",
        "mercato.webhooks.give_up_after": str(7 * 86_400),
    }


def attempts(dbsession) -> int:
    return dbsession.scalar(select(func.count()).select_from(Attempt))


def test_mercato_worker_pass_deletes_old_events_once_none_of_their_deliveries_is_pending(
    demo_shop, demo_staff, dbsession, receiver
):
    add_endpoint(dbsession, receiver.url, events=["product.changed"])
    create_product(demo_staff, "HAT-1")  # delivered at once
    receiver.failures_per_event = 10**6
    create_product(demo_staff, "HAT-2")  # its delivery fails and is retried
    delivered, pending = events_of(dbsession)
    assert [d.status for d in deliveries_of(dbsession)] == ["delivered", "pending"]
    worker = Worker(demo_shop.app.registry)
    start = datetime.now(UTC)

    worker.run_once(now=start + DAY / 2)
    assert len(events_of(dbsession)) == 2, "younger than keep_days: kept"

    worker.run_once(now=start + 2 * DAY)
    assert [e.id for e in events_of(dbsession)] == [pending.id], "the pending one stays"
    assert [d.event_id for d in deliveries_of(dbsession)] == [pending.id]
    assert attempts(dbsession) == len(deliveries_of(dbsession)[0].log)

    receiver.failures_per_event = 0
    worker.run_once(now=start + 3 * DAY)  # delivered now, and older than a day
    assert events_of(dbsession) == [] and deliveries_of(dbsession) == []
    assert attempts(dbsession) == 0
