"""The retry schedule, on the worker's clock (``run_once(now=…)``) instead of a day's
wait: backoff from 30 s doubling to an hour, dead a day after the event; a receiver
down for an hour gets every event once when it is back; a dead delivery can still be
retried from the admin."""

from datetime import timedelta
from itertools import pairwise

from sqlalchemy import select

from mercato.ops.outbox import Worker
from mercato_webhooks.models import Event

from .conftest import add_endpoint, deliveries_of

DAY = timedelta(days=1)


def create_product(staff, sku: str) -> None:
    form = staff.app.get("/admin/catalog/products/new").forms["product-form"]
    form["name"], form["new-sku"], form["new-price"] = f"Hat {sku}", sku, "19.00"
    form.submit(status=303)


def test_a_failing_delivery_backs_off_to_an_hour_and_dies_after_a_day(
    demo_shop, demo_staff, dbsession, receiver
):
    add_endpoint(dbsession, receiver.url, events=["product.changed"])
    receiver.failures_per_event = 10**6  # never answers 2xx
    create_product(demo_staff, "HAT")
    worker = Worker(demo_shop.app.registry)
    created = dbsession.scalar(select(Event.created_at))

    schedule = []
    [delivery] = deliveries_of(dbsession)
    while delivery.status == "pending":
        due = delivery.next_attempt_at
        schedule.append(due)
        assert worker.run_once(now=due - timedelta(seconds=1)) == 0, "not before it is due"
        assert worker.run_once(now=due) == 1
        [delivery] = deliveries_of(dbsession)

    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(schedule)]
    assert gaps[:8] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert set(gaps[6:]) == {3600}, "an hour apart at most"
    assert delivery.status == "dead" and delivery.attempts == len(schedule) + 1
    assert schedule[-1] <= created + DAY < schedule[-1] + timedelta(hours=1)
    assert len(receiver.requests) == delivery.attempts
    assert worker.run_once(now=created + 2 * DAY) == 0, "a dead delivery is not retried"

    # The receiver is fixed: staff send the dead delivery once more, by hand.
    receiver.failures_per_event = 0
    page = demo_staff.app.get(f"/admin/webhooks/deliveries/{delivery.id}")
    page.forms[f"retry-{delivery.id}"].submit(status=303)
    [delivery] = deliveries_of(dbsession)
    assert delivery.status == "delivered" and len(receiver.delivered()) == 1


def test_a_receiver_down_for_an_hour_gets_every_event_once_when_it_is_back(
    demo_shop, demo_staff, dbsession, receiver
):
    add_endpoint(dbsession, receiver.url, events=["product.changed"])
    receiver.failures_per_event = 10**6
    for sku in ("HAT", "CAP", "BERET"):
        create_product(demo_staff, sku)
    worker = Worker(demo_shop.app.registry)
    start = dbsession.scalar(select(Event.created_at).order_by(Event.created_at))
    for minute in range(0, 61):  # a worker pass a minute for the hour it is down
        worker.run_once(now=start + timedelta(minutes=minute))
    failed = len(receiver.requests)
    assert failed > 3 * 5 and not receiver.delivered()

    receiver.failures_per_event = 0  # back
    for minute in range(61, 181):
        worker.run_once(now=start + timedelta(minutes=minute))

    accepted = receiver.delivered()
    assert sorted(request.event_id for request in accepted) == sorted(
        delivery.event_id for delivery in deliveries_of(dbsession)
    )
    assert len(accepted) == 3 and len({request.event_id for request in accepted}) == 3
    assert {delivery.status for delivery in deliveries_of(dbsession)} == {"delivered"}
