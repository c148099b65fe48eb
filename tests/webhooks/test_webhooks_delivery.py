"""Delivery in the composed shop, on the real clock: every event reaches a receiver
once, signed, though the receiver fails three times per event and the worker
(``mercato worker``'s loop) is restarted in between."""

import threading
import time

import pytest

from mercato.ops.outbox import Worker
from mercato_webhooks.verify import verify

from .conftest import FAST_RETRIES, add_endpoint, attempts_of, bodies, deliveries_of

SECRET = "whsec_test"


@pytest.fixture
def webhook_settings():
    return {"mercato.webhooks.allow_private_targets": "true", **FAST_RETRIES}


class RunningWorker:
    """``mercato worker``'s loop in a thread, stopped as SIGTERM stops it: after the
    delivery in hand."""

    def __init__(self, registry):
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=Worker(registry).run_forever, args=(self.stop_event, 0.05), daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        if self.stop_event.is_set():
            return
        self.stop_event.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the worker stops after the delivery in hand"


@pytest.fixture
def start_worker():
    """``start_worker(registry)`` → a running worker; any left running are stopped."""
    running = []

    def start(registry) -> RunningWorker:
        running.append(RunningWorker(registry))
        return running[-1]

    yield start
    for worker in running:
        worker.stop()


def wait_until(condition, timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_mercato_worker_pass_delivers_every_event_once_across_a_worker_restart(
    demo_shop, demo_shopper, dbsession, receiver, start_worker
):
    add_endpoint(dbsession, receiver.url, events=["order.placed", "order.paid"], secret=SECRET)
    receiver.failures_per_event = 3  # the receiver is down: 500, 500, 500, then 200

    demo_shopper.buy({"TEE": 1})
    worker = start_worker(demo_shop.app.registry)
    wait_until(lambda: len(receiver.requests) >= 4, what="a few failed attempts")
    worker.stop()  # a restart: the second worker picks up where the first left off
    assert not receiver.delivered(), "nothing accepted yet: every attempt so far failed"
    worker = start_worker(demo_shop.app.registry)
    accepted = receiver.wait_for(2)
    time.sleep(1.5)  # longer than the longest pause between retries: nothing more comes
    worker.stop()

    accepted = receiver.delivered()
    assert sorted(body["type"] for body in bodies(accepted)) == ["order.paid", "order.placed"]
    assert len({request.event_id for request in accepted}) == 2, "each event once"
    for request in receiver.requests:
        verify(SECRET, request.headers["Mercato-Signature"], request.body)
    per_event = {}
    for request in receiver.requests:
        per_event.setdefault(request.event_id, []).append(request.answered)
    assert all(answers == [500, 500, 500, 200] for answers in per_event.values()), per_event
    for delivery in deliveries_of(dbsession):
        assert (delivery.status, delivery.attempts) == ("delivered", 4)
        log = attempts_of(dbsession, delivery)
        assert [attempt.status_code for attempt in log] == [500, 500, 500, 200]
        assert all(attempt.duration_ms >= 0 for attempt in log)
    [order] = [body["data"]["order"] for body in bodies(accepted) if body["type"] == "order.paid"]
    assert order["total"]["currency"] == "EUR" and order["lines"][0]["sku"] == "TEE"
