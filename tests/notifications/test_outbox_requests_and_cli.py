"""The outbox in a real request (pyramid_tm) and through the ``mercato`` command, run as
a store owner runs it: ``mercato worker`` and ``mercato outbox list|retry|prune``."""

import gc
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest
from sqlalchemy import text

from mercato import make_app
from mercato.ops.outbox import BEHIND_KEY, DELIVER_KEY, Behind, Worker
from mercato.outbox import enqueue
from mercato.testing import TCPProxy

from .outbox_helpers import deliveries, message_count, order_payload

ROOT = Path(__file__).resolve().parents[2]
MERCATO = [sys.executable, "-m", "mercato.ops.cli"]
ENV = {"PYTHONPATH": str(ROOT)}


def test_a_request_sends_its_email_after_commit_and_none_when_it_fails(
    make_test_app, smtp_settings, smtp_server, db_engine
):
    app = make_test_app(
        plugins=["notifications", "tests.notifications.shop_events"], **smtp_settings
    )

    assert app.get("/test/sign-up", {"email": "anna@example.com"}).text == "welcome"
    [message] = smtp_server.messages
    assert (message["To"], message["Subject"]) == ("anna@example.com", "Welcome to Test Shop")

    app.get("/test/sign-up", {"email": "bob@example.com", "refuse": "1"}, status=400)
    assert message_count(db_engine) == 1
    assert len(smtp_server.messages) == 1


@pytest.fixture
def ini(tmp_path, migrated_database, redis_url, smtp_server):
    path = tmp_path / "shop.ini"
    path.write_text(
        "[app:main]\nuse = egg:mercato\n"
        "mercato.plugins = notifications\n"
        "mercato.secret = s3cr3t-value\n"
        "mercato.shop_name = Test Shop\n"
        f"sqlalchemy.url = {migrated_database}\nredis.url = {redis_url}\n"
        f"mercato.notifications.host = {smtp_server.host}\n"
        f"mercato.notifications.port = {smtp_server.port}\n"
        "mercato.notifications.timeout = 2\n"
    )
    return path


def run(*args):
    return subprocess.run(
        [*MERCATO, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=ENV
    )


def record_without_delivery(tm_session, *payloads):
    """Enqueue through a session that does not know its app: only a worker delivers."""
    session, manager = tm_session
    with manager:
        for payload in payloads:
            enqueue(session, "order.placed", payload)


def test_worker_once_delivers_what_waits(ini, tm_session, smtp_server):
    record_without_delivery(tm_session, order_payload(number="M-7"))
    listing = run("-c", str(ini), "outbox", "list")
    assert "new      order.placed" in listing.stdout and "anna@example.com" in listing.stdout

    result = run("-c", str(ini), "worker", "--once")
    assert result.returncode == 0, result.stderr
    [message] = smtp_server.messages
    assert message["Subject"] == "Order M-7 confirmed — Test Shop"
    assert run("-c", str(ini), "outbox", "list").stdout == "nothing pending\n"


def test_worker_runs_until_terminated(ini, tm_session, smtp_server, db_engine):
    worker = subprocess.Popen(
        [*MERCATO, "-c", str(ini), "worker", "--interval", "0.2"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        record_without_delivery(
            tm_session, order_payload(number="M-1"), order_payload(number="M-2")
        )
        smtp_server.wait_for(2, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert {d.status for d in deliveries(db_engine)} == {"sent"}
    assert len(smtp_server.messages) == 2


def test_list_dead_and_retry(ini, app_session, registry, smtp_server, db_engine):
    smtp_server.stop()
    session, manager = app_session
    with manager:
        enqueue(session, "account.created", {"email": "bob@example.com"})
    Worker(registry, max_attempts=1).run_once(now=deliveries(db_engine)[0].next_attempt_at)
    [delivery] = deliveries(db_engine)
    assert delivery.status == "dead"

    assert run("-c", str(ini), "outbox", "list").stdout == "nothing pending\n"
    dead = run("-c", str(ini), "outbox", "list", "--dead")
    assert dead.returncode == 0, dead.stderr
    lines = dead.stdout.splitlines()
    assert lines[0].split()[:4] == [str(delivery.id), "dead", "account.created", "bob@example.com"]
    assert lines[1].startswith("        error: ConnectionRefusedError: ")

    smtp_server.start()
    retried = run("-c", str(ini), "outbox", "retry", str(delivery.id))
    assert (retried.returncode, retried.stdout) == (0, f"delivery {delivery.id}: delivered\n")
    [message] = smtp_server.messages
    assert message["To"] == "bob@example.com"

    again = run("-c", str(ini), "outbox", "retry", str(delivery.id))
    assert again.returncode == 1
    assert "was already sent; retrying would repeat it" in again.stdout
    assert len(smtp_server.messages) == 1


def test_a_mail_server_that_hangs_does_not_hold_up_the_answer(
    make_test_app, smtp_settings, smtp_server, db_engine
):
    """The email is delivered behind the response: a mail server that accepts the
    connection and never answers leaves the shopper's request unaffected, and the
    attempt, made after the answer, fails on its timeout and is retried later."""
    hanging = TCPProxy((smtp_server.host, smtp_server.port))
    hanging.freeze()
    settings = {**smtp_settings, "mercato.notifications.port": str(hanging.port)}
    app = make_test_app(plugins=["notifications", "tests.notifications.shop_events"], **settings)
    app.settle_deliveries = False
    try:
        assert app.get("/test/sign-up", {"email": "anna@example.com"}).text == "welcome"
        # Answered while the delivery still waits on the mail server: no attempt counted.
        assert message_count(db_engine) == 1
        assert [d.attempts for d in deliveries(db_engine)] in ([], [0])

        assert app.app.registry[BEHIND_KEY].drain(timeout=30)
        [delivery] = deliveries(db_engine)
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert "timed out" in delivery.last_error
        assert smtp_server.messages == []
    finally:
        hanging.stop()


def test_an_apps_delivery_thread_lets_the_app_go_once_idle(app_settings, monkeypatch):
    """A thread that lived for ever kept its app (engine, clients, sockets) alive: a
    test run makes hundreds of apps, and ran out of file descriptors."""
    monkeypatch.setattr(Behind, "IDLE_S", 0.2)
    app = make_app(dict(app_settings), environ={})
    app.registry[DELIVER_KEY](10**12)  # no such message: the thread starts, finds nothing
    assert app.registry[BEHIND_KEY].drain(timeout=30)
    registry = weakref.ref(app.registry)
    app.registry.db_engine.dispose()
    app.registry.redis.close()
    del app

    deadline = time.monotonic() + 10
    while registry() is not None and time.monotonic() < deadline:
        time.sleep(0.1)
        gc.collect()
    assert registry() is None, "the app is still referenced once its thread is idle"


def test_prune_deletes_old_sent_messages_and_provider_event_ids_only(ini, tm_session, db_engine):
    record_without_delivery(tm_session, *(order_payload(number=f"M-{n}") for n in range(1, 5)))
    assert run("-c", str(ini), "worker", "--once").returncode == 0
    with db_engine.begin() as connection:
        ids = connection.execute(text("SELECT id FROM outbox_messages ORDER BY id")).scalars().all()
        _old_sent, old_dead, old_pending, recent = ids
        connection.execute(
            text(
                "UPDATE outbox_messages SET created_at = now() - interval '40 days' WHERE id <> :r"
            ),
            {"r": recent},
        )
        connection.execute(
            text("UPDATE outbox_deliveries SET status = 'dead' WHERE message_id = :m"),
            {"m": old_dead},
        )
        connection.execute(
            text("UPDATE outbox_deliveries SET status = 'pending' WHERE message_id = :m"),
            {"m": old_pending},
        )
        connection.execute(
            text(
                "INSERT INTO payment_provider_events (provider, event_id, received_at) VALUES"
                " ('stripe', 'evt_old', now() - interval '40 days'), ('stripe', 'evt_new', now())"
            )
        )

    result = run("-c", str(ini), "outbox", "prune", "--older-than-days", "30")

    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(
        "mercato outbox prune: 1 sent message(s) and 1 payment provider event id(s) "
        "older than 30 days deleted\n"
    ), result.stdout
    assert "  messages: 1 deleted …" in result.stdout, "progress, batch by batch"
    with db_engine.connect() as connection:
        left = connection.execute(text("SELECT id FROM outbox_messages ORDER BY id")).scalars()
        assert list(left) == [old_dead, old_pending, recent]
        events = connection.execute(text("SELECT event_id FROM payment_provider_events"))
        assert list(events.scalars()) == ["evt_new"]
    assert {d.message_id for d in deliveries(db_engine)} == {old_dead, old_pending, recent}
    refused = run("-c", str(ini), "outbox", "prune", "--older-than-days", "0")
    assert (refused.returncode, refused.stdout) == (
        2,
        "mercato outbox prune: --older-than-days must be at least 1\n",
    )
