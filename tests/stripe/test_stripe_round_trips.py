"""How many requests payments_stripe sends to Stripe for each payment step, seen on the
wire: the plugin's calls go through a loopback proxy of ours to localstripe, which
records the request lines. A checkout's capture and an abort's void happen inside the
shopper's request, so each round trip they save is time the shopper does not wait."""

import functools
import re
import socket
import threading

import pytest

from mercato import Money
from mercato.testing import TCPProxy
from tests.checkout.shopping import CARD_OK, Shopper, payment_intents
from tests.stripe.test_stripe_hooks import CalledAsTheKernelCalls, an_order, info

REQUEST_LINE = re.compile(rb"(GET|POST|DELETE) (/v1/[^ ?]*)\S* HTTP/1\.1\r\n")


class RecordingProxy(TCPProxy):
    """``TCPProxy`` that also keeps what clients sent, to read their request lines."""

    def __init__(self, target):
        self.sent: dict[socket.socket, bytearray] = {}  # by client connection, in order
        self._seen: dict[socket.socket, int] = {}  # how much of each was read
        self._lock = threading.Lock()
        super().__init__(target)

    def passing(self, source, chunk):
        if source.getsockname()[1] == self.port:  # a client's request, not an answer
            with self._lock:
                self.sent.setdefault(source, bytearray()).extend(chunk)

    def requests(self) -> list[str]:
        """``"POST /v1/payment_intents/{id}/capture"`` … sent since the last call, in the
        order each connection sent them (the calls are made one after the other)."""
        lines = []
        with self._lock:
            unread = []
            for client, buffer in self.sent.items():
                unread.append(bytes(buffer[self._seen.get(client, 0) :]))
                self._seen[client] = len(buffer)
        for data in unread:
            for method, path in REQUEST_LINE.findall(data):
                path = re.sub(rb"/(pi|pm|card)_[A-Za-z0-9_]+", rb"/{id}", path)
                lines.append(f"{method.decode()} {path.decode()}")
        return lines


@pytest.fixture
def proxy(localstripe):
    recording = RecordingProxy(("127.0.0.1", localstripe.port))
    yield recording
    recording.stop()


@pytest.fixture
def hooks(make_test_app, stripe_settings, proxy):
    settings = {
        **stripe_settings,
        "mercato.payments_stripe.api_base": f"http://127.0.0.1:{proxy.port}",
    }
    app = make_test_app(plugins=["payments_stripe"], **settings)
    return CalledAsTheKernelCalls(app.app.registry), app


def authorized(hooks, localstripe, card=CARD_OK):
    calls, app = hooks
    result = calls.mercato_authorize_payment(
        order=an_order(),
        method="stripe_card",
        details={"payment_method": Shopper(app, localstripe).card(card)},
        idempotency_key="mercato:c0ffee:1:authorize",
    )
    return calls, result


def test_a_checkouts_authorization_and_capture_are_two_requests_to_stripe(
    hooks, proxy, localstripe
):
    calls, result = authorized(hooks, localstripe)
    capture = functools.partial(
        calls.mercato_capture_payment,
        payment=info(result),
        amount=Money(5000, "EUR"),
        idempotency_key="mercato:c0ffee:1:capture",
    )

    captured = capture()

    assert result.status == "authorized" and captured.status == "captured"
    assert proxy.requests() == [
        "POST /v1/payment_intents",
        "POST /v1/payment_intents/{id}/capture",
    ]
    [pi] = payment_intents(localstripe)
    assert pi.status == "succeeded"
    # Asked again (reconcile, a retried request): Stripe refuses a second capture, the
    # plugin reads the PaymentIntent and answers "captured" without taking more.
    again = capture()
    assert again.status == "captured" and again.amount == Money(5000, "EUR")
    assert proxy.requests() == [
        "POST /v1/payment_intents/{id}/capture",
        "GET /v1/payment_intents/{id}",
    ]


def test_voiding_an_authorization_is_one_request_to_stripe(hooks, proxy, localstripe):
    calls, result = authorized(hooks, localstripe)
    proxy.requests()
    void = functools.partial(
        calls.mercato_void_payment, payment=info(result), idempotency_key="mercato:c0ffee:1:void"
    )

    voided = void()

    assert voided.status == "voided"
    assert proxy.requests() == ["POST /v1/payment_intents/{id}/cancel"]
    [pi] = payment_intents(localstripe)
    assert pi.status == "canceled"
    again = void()
    assert again.status == "voided"
    assert proxy.requests() == [
        "POST /v1/payment_intents/{id}/cancel",
        "GET /v1/payment_intents/{id}",
    ]
