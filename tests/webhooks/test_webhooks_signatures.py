"""A receiver trusts a request only when the documented verification accepts it: the
function docs/webhooks.md shows (run here as written there) and the plugin's own
``mercato_webhooks.verify`` accept what the shop signs, and refuse a forged body, a
wrong secret, a missing header and a signature older or newer than five minutes."""

import re
import time
from pathlib import Path

import pytest

from mercato_webhooks import verify as shipped

from .conftest import add_endpoint

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"order.paid","created":"2026-12-05T10:00:00+00:00","data":{}}'


def documented_verify():
    """The verification code of docs/webhooks.md, exactly as a receiver copies it."""
    section = DOCS.read_text().split("## Verifying a request", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102 (our own docs)
    return namespace["verify"], namespace["SignatureError"]


IMPLEMENTATIONS = {
    "docs/webhooks.md": documented_verify(),
    "mercato_webhooks.verify": (shipped.verify, shipped.SignatureError),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def verification(request):
    return IMPLEMENTATIONS[request.param]


def test_a_signed_body_is_accepted(verification):
    verify, _ = verification
    header = shipped.sign(SECRET, BODY)
    assert abs(verify(SECRET, header, BODY) - time.time()) < 5


@pytest.mark.parametrize(
    "what, secret, body",
    [
        ("a body changed after signing", SECRET, BODY.replace(b"order.paid", b"order.refunded")),
        ("another endpoint's secret", "whsec_other", BODY),
    ],
)
def test_a_forged_request_is_refused(verification, what, secret, body):
    verify, refused = verification
    header = shipped.sign(secret, body if what == "another endpoint's secret" else BODY)
    with pytest.raises(refused):
        verify(SECRET, header, body)


@pytest.mark.parametrize(
    "header", ["", "v1=abc", "t=1796465643", "t=soon,v1=abc", "t=1,t=2,v1=abc", "garbage"]
)
def test_a_missing_or_malformed_header_is_refused(verification, header):
    verify, refused = verification
    with pytest.raises(refused):
        verify(SECRET, header, BODY)


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_stale_signature_is_refused(verification, age):
    verify, refused = verification
    now = time.time()
    header = shipped.sign(SECRET, BODY, timestamp=int(now - age))
    with pytest.raises(refused):
        verify(SECRET, header, BODY, now=now)
    # Inside the five minutes the same signature passes: the window, not the math.
    assert verify(SECRET, header, BODY, now=now - age + (299 if age > 0 else -299))


def test_what_the_shop_sends_passes_the_documented_check_and_a_replay_does_not(
    demo_shop, demo_staff, dbsession, receiver
):
    verify, refused = IMPLEMENTATIONS["docs/webhooks.md"]
    add_endpoint(dbsession, receiver.url, events=["product.changed"], secret=SECRET)
    form = demo_staff.app.get("/admin/catalog/products/new").forms["product-form"]
    form["name"], form["new-sku"], form["new-price"] = "Wool Hat", "HAT", "19.00"
    form.submit(status=303)

    [request] = receiver.wait_for(1)
    header = request.headers["Mercato-Signature"]
    signed_at = verify(SECRET, header, request.body)
    assert request.headers["Mercato-Event-Id"].startswith("evt_")
    with pytest.raises(refused):  # the same request captured and replayed six minutes on
        verify(SECRET, header, request.body, now=signed_at + 360)
    with pytest.raises(refused):
        verify("whsec_guessed", header, request.body)
