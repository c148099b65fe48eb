"""The outbox keeps its promise when things fail: a mail server that is down, a plugin
that fails while another succeeds, deliveries that give up, and several workers at once."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from mercato.ops.outbox import (
    MAX_ATTEMPTS,
    OutboxError,
    Worker,
    entries,
    now_utc,
    retry,
    retry_delay,
)
from mercato.outbox import enqueue

from .conftest import joined_to
from .notifiers import flaky
from .outbox_helpers import deliveries, order_payload

FLAKY = "tests.notifications.notifiers.flaky"


def test_smtp_down_is_retried_and_delivered_once_back(
    app_session, smtp_server, registry, db_engine
):
    smtp_server.stop()
    session, manager = app_session
    with manager:  # the order commits although the mail server is down
        enqueue(session, "order.placed", order_payload())

    [delivery] = deliveries(db_engine)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("ConnectionRefusedError: ")
    first_failure = delivery.next_attempt_at - retry_delay(1)

    smtp_server.start()
    worker = Worker(registry)
    assert worker.run_once(now=first_failure + timedelta(seconds=5)) == 0, "backoff respected"
    assert smtp_server.messages == []

    assert worker.run_once(now=delivery.next_attempt_at) == 1
    [message] = smtp_server.messages
    assert message["Subject"] == "Order M-1001 confirmed — Test Shop"
    [delivery] = deliveries(db_engine)
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert worker.run_once(now=delivery.next_attempt_at + timedelta(days=1)) == 0
    assert len(smtp_server.messages) == 1


def test_backoff_doubles_up_to_an_hour():
    delays = [retry_delay(n) for n in range(1, MAX_ATTEMPTS + 2)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays[-1] == timedelta(hours=1)


def test_delivery_gives_up_after_max_attempts_and_can_be_retried(
    app_session, smtp_server, registry, db_engine
):
    smtp_server.stop()
    session, manager = app_session
    with manager:
        enqueue(session, "account.created", {"email": "bob@example.com"})

    worker = Worker(registry, max_attempts=3)
    when = now_utc()
    for _ in range(4):
        when += timedelta(hours=2)
        worker.run_once(now=when)
    [delivery] = deliveries(db_engine)
    assert (delivery.status, delivery.attempts) == ("dead", 3)
    assert delivery.last_error.startswith("ConnectionRefusedError: ")
    with Session(db_engine) as check:
        assert entries(check) == []
        [dead] = entries(check, dead=True)
    assert (dead.delivery_id, dead.event, dead.recipient) == (
        delivery.id,
        "account.created",
        "bob@example.com",
    )

    assert "ConnectionRefusedError" in retry(registry, delivery.id)
    smtp_server.start()
    assert retry(registry, delivery.id) is None
    [message] = smtp_server.messages
    assert message["To"] == "bob@example.com"
    [delivery] = deliveries(db_engine)
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_failing_plugin_is_retried_without_resending_what_another_delivered(
    make_registry, tm_session, smtp_server, db_engine
):
    flaky.received.clear()
    flaky.down = True
    registry = make_registry(plugins=["notifications", FLAKY])
    session, manager = joined_to(tm_session, registry)
    with manager:
        enqueue(session, "order.placed", order_payload())

    by_plugin = {d.plugin: d for d in deliveries(db_engine)}
    assert by_plugin["notifications"].status == "sent"
    assert by_plugin[FLAKY].status == "pending"
    assert by_plugin[FLAKY].last_error == "ConnectionError: chat service unavailable"
    assert len(smtp_server.messages) == 1

    flaky.down = False
    assert Worker(registry).run_once(now=by_plugin[FLAKY].next_attempt_at) == 1
    assert [event for event, _ in flaky.received] == ["order.placed"]
    assert flaky.received[0][1]["number"] == "M-1001"
    assert {d.status for d in deliveries(db_engine)} == {"sent"}
    assert len(smtp_server.messages) == 1, "the email was not sent again"


def test_two_workers_deliver_each_message_exactly_once(
    tm_session, registry, smtp_server, db_engine
):
    # Recorded by a session that does not know its app: nothing is delivered after
    # the commit, everything waits for the workers.
    session, manager = tm_session
    count = 40
    with manager:
        for n in range(count):
            enqueue(session, "order.placed", order_payload(number=f"M-{n}"))
    with Session(db_engine) as check:
        assert [e.status for e in entries(check)] == ["new"] * count

    smtp_server.delay = 0.01  # a real server's pace, so that the two workers overlap
    start = threading.Barrier(2)
    done: dict[str, int] = {}
    errors: list[BaseException] = []

    def work(name):
        worker = Worker(registry, batch=5)
        start.wait()
        try:
            while attempted := worker.run_once():
                done[name] = done.get(name, 0) + attempted
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    subjects = sorted(m["Subject"] for m in smtp_server.messages)
    assert subjects == sorted(f"Order M-{n} confirmed — Test Shop" for n in range(count))
    rows = deliveries(db_engine)
    assert len(rows) == count
    assert {(d.status, d.attempts) for d in rows} == {("sent", 1)}
    assert done["a"] + done["b"] == count
    assert done["a"] > 0 and done["b"] > 0, f"both workers delivered: {done}"


@pytest.mark.parametrize("status", ["sent", "missing"])
def test_retry_refuses_what_it_cannot_do(app_session, smtp_server, registry, db_engine, status):
    session, manager = app_session
    with manager:
        enqueue(session, "account.created", {"email": "bob@example.com"})
    [delivery] = deliveries(db_engine)
    ident = delivery.id if status == "sent" else delivery.id + 1000
    message = "was already sent" if status == "sent" else "there is no outbox delivery"
    with pytest.raises(OutboxError, match=message):
        retry(registry, ident)
    assert len(smtp_server.messages) == 1


def test_session_outside_a_transaction_manager_leaves_delivery_to_the_worker(
    dbsession, registry, smtp_server
):
    dbsession.info["mercato.registry"] = registry
    enqueue(dbsession, "account.created", {"email": "bob@example.com"})
    dbsession.commit()  # a script's own commit: no transaction to hook into
    assert smtp_server.messages == []

    assert Worker(registry).run_once() == 1
    [message] = smtp_server.messages
    assert message["To"] == "bob@example.com"
