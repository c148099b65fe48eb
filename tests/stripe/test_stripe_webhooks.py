"""Stripe's webhook: signature first, then each event applied once, in order."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import webtest
from sqlalchemy import func, select, text

from mercato.orders import models as m
from mercato_payments_stripe.embedded import WEBHOOK_SECRET
from tests.checkout.shopping import (
    CARD_3DS,
    SHOP_PLUGIN,
    Shopper,
    orders,
    outbox_count,
    payment_intents,
    payments,
)

from .test_stripe_payments import authenticate_in_browser


@pytest.fixture
def mercato_plugins():
    return ["payments_stripe", "tests.checkout.shop_plugin"]


class Recorder:
    """Receives localstripe's webhook deliveries, exactly as it sends them."""

    def __init__(self):
        self.deliveries: list[tuple[dict, bytes]] = []
        self.paths: set[str] = set()  # where the deliveries were posted
        self.arrived = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with recorder.arrived:
                    recorder.deliveries.append((dict(self.headers), body))
                    recorder.paths.add(self.path)
                    recorder.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, event_type: str, pi_id: str, timeout: float = 10.0) -> tuple[dict, bytes]:
        """The delivery of ``event_type`` about ``pi_id`` (an earlier test's events may
        still be on their way: localstripe sends each a second after the fact)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for headers, body in self.deliveries:
                    event = json.loads(body)
                    if event["type"] == event_type and event["data"]["object"]["id"] == pi_id:
                        return headers, body
                left = deadline - time.monotonic()
                assert left > 0, f"localstripe sent no {event_type} webhook"
                self.arrived.wait(left)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder(localstripe, stripe_settings):
    recorder = Recorder()
    localstripe.send_webhooks_to(recorder.url)
    yield recorder
    recorder.close()


def signed(event: dict, secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict]:
    """An event signed the way Stripe signs it (``t=…,v1=HMAC-SHA256(t.payload)``)."""
    payload = json.dumps(event).encode()
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256)
    return payload, {"Stripe-Signature": f"t={timestamp},v1={signature.hexdigest()}"}


def event_for(pi, event_type: str, created: int, event_id: str) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": False,
        "api_version": "2017-08-15",
        "data": {"object": pi.to_dict()},
    }


def deliver(app, payload: bytes, headers: dict, status: int = 200):
    return app.post(
        "/stripe/webhook",
        payload,
        headers={**headers, "Content-Type": "application/json"},
        status=status,
    )


def history(dbsession, order_number: str) -> list[str]:
    dbsession.expire_all()
    order = dbsession.scalars(select(m.Order).where(m.Order.number == order_number)).one()
    return [change.new_status for change in order.history]


@pytest.fixture
def held_order(make_test_app, stripe_settings, shop_items, localstripe, dbsession):
    """An order whose money is authorized, not captured (the shop captures on shipping)."""
    shop_items("MUG", "Blue mug", 1200, 10)
    app = make_test_app(
        plugins=["payments_stripe", SHOP_PLUGIN],
        **stripe_settings,
        **{"mercato.capture": "fulfilment"},
    )
    Shopper(app, localstripe).checkout("MUG", 1)
    [order] = orders(dbsession)
    assert order.status == m.AUTHORIZED
    [pi] = payment_intents(localstripe)
    return app, order, pi


def test_forged_signature_is_refused_with_400_and_changes_nothing(held_order, dbsession):
    app, order, pi = held_order
    captured = {**pi.to_dict(), "status": "succeeded"}
    event = {**event_for(pi, "payment_intent.succeeded", int(time.time()), "evt_forged")}
    event["data"]["object"] = captured
    payload, headers = signed(event, secret="whsec_not_the_shops")

    response = deliver(app, payload, headers, status=400)

    assert response.json["error"]["message"] == "invalid signature"
    assert history(dbsession, order.number) == [m.AWAITING_PAYMENT, m.AUTHORIZED]
    assert dbsession.scalar(select(func.count()).select_from(m.ProviderEvent)) == 0
    deliver(app, payload, {}, status=400)  # no signature at all


def test_the_same_webhook_delivered_five_times_changes_the_order_once(
    held_order, recorder, localstripe, dbsession
):
    app, order, pi = held_order
    # Someone captures in Stripe's dashboard: Stripe tells the shop by webhook.
    localstripe.client().v1.payment_intents.capture(pi.id)
    headers, body = recorder.wait_for("payment_intent.succeeded", pi.id)
    signature = {"Stripe-Signature": headers["Stripe-Signature"]}

    answers = [deliver(app, body, signature).json for _ in range(5)]

    assert answers[0] == {"received": True, "applied": True}
    assert all(answer == {"received": True, "applied": False} for answer in answers[1:])
    assert history(dbsession, order.number) == [m.AWAITING_PAYMENT, m.AUTHORIZED, m.PAID]
    dbsession.expire_all()
    assert dbsession.get(m.Order, order.id).amount_captured == 1200


def test_an_older_event_arriving_late_is_ignored(held_order, recorder, localstripe, dbsession):
    app, order, pi = held_order
    localstripe.client().v1.payment_intents.capture(pi.id)
    headers, body = recorder.wait_for("payment_intent.succeeded", pi.id)
    deliver(app, body, {"Stripe-Signature": headers["Stripe-Signature"]})
    succeeded_at = json.loads(body)["created"]

    # Stripe's "authorized" event for the same PaymentIntent, sent before the capture
    # but delivered after it, carrying the state of that moment.
    late = event_for(pi, "payment_intent.payment_failed", succeeded_at - 30, "evt_late")
    late["data"]["object"]["status"] = "requires_payment_method"
    payload, signature = signed(late)
    deliver(app, payload, signature)

    assert history(dbsession, order.number) == [m.AWAITING_PAYMENT, m.AUTHORIZED, m.PAID]
    dbsession.expire_all()
    assert dbsession.get(m.Order, order.id).status == m.PAID


def test_3d_secure_finished_by_the_webhook_first_then_the_return_page(
    shop, shopper, shop_items, localstripe, dbsession
):
    shop_items("MUG", "Blue mug", 1200, 10)
    shopper.add("MUG", 1)
    shopper.address()
    page = shopper.pay(CARD_3DS, status=200)
    return_url = authenticate_in_browser(localstripe, page.text)
    [pi] = payment_intents(localstripe)
    assert pi.status == "requires_capture"

    # Stripe's amount_capturable_updated (localstripe does not send this one).
    payload, signature = signed(
        event_for(pi, "payment_intent.amount_capturable_updated", int(time.time()), "evt_auth")
    )
    stripe_servers = webtest.TestApp(shop.app)  # no cookies: Stripe is not the shopper
    assert deliver(stripe_servers, payload, signature).json == {"received": True, "applied": True}
    [order] = orders(dbsession)
    assert order.status == m.PAID
    assert shopper.cart() == {"MUG": 1}, "the webhook is not the shopper: their cart waits"

    landing = shopper.app.get(return_url, status=303)

    assert landing.location.endswith(f"/checkout/done/{order.access_token}")
    assert shopper.cart() == {}
    assert history(dbsession, order.number) == [m.AWAITING_PAYMENT, m.AUTHORIZED, m.PAID]
    assert outbox_count(dbsession) == 1
    assert payment_intents(localstripe)[0].status == "succeeded"


def test_a_webhook_waiting_for_an_order_leaves_its_payment_free_for_a_refund(
    held_order, recorder, localstripe, dbsession, db_engine
):
    """A refund holds its order's row lock while its own connection locks the payment; a
    webhook for that payment must not hold the payment while it waits for the order, or
    each waits for the other until the statement timeout."""
    app, order, pi = held_order
    localstripe.client().v1.payment_intents.capture(pi.id)
    headers, body = recorder.wait_for("payment_intent.succeeded", pi.id)
    [payment] = payments(dbsession)

    with db_engine.connect() as refund_request:  # a refund's request: the order locked
        refund_request.execute(
            text("SELECT id FROM orders WHERE id = :id FOR NO KEY UPDATE"), {"id": order.id}
        )
        answers = []
        webhook = threading.Thread(
            target=lambda: answers.append(
                deliver(app, body, {"Stripe-Signature": headers["Stripe-Signature"]}).json
            )
        )
        webhook.start()
        wait_until_a_backend_waits_for_a_lock(db_engine)

        with db_engine.connect() as refund_row:  # the refund's own connection
            refund_row.execute(text("SET lock_timeout = '2s'"))
            locked = refund_row.execute(
                text("SELECT id FROM payments WHERE id = :id FOR UPDATE"), {"id": payment.id}
            ).scalar_one()
            refund_row.rollback()
        refund_request.rollback()
    webhook.join(timeout=30)

    assert locked == payment.id
    assert answers == [{"received": True, "applied": True}]
    assert history(dbsession, order.number) == [m.AWAITING_PAYMENT, m.AUTHORIZED, m.PAID]


def wait_until_a_backend_waits_for_a_lock(engine, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            watcher.rollback()
            if waiting:
                return
            time.sleep(0.05)
    pytest.fail("the webhook never waited for the order's lock")
