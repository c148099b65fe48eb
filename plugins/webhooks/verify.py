"""Signing a webhook, and what a receiver runs to trust one (docs/webhooks.md shows the
same function to copy into a receiver that does not install Mercato).

``Mercato-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``, as
Stripe signs: the timestamp is signed with the body, so a captured request cannot be
replayed after the tolerance window, and the comparison is constant-time.
"""

import hashlib
import hmac
import time

HEADER = "Mercato-Signature"
TOLERANCE = 300  # seconds: a signature older (or newer) than this is refused


class SignatureError(ValueError):
    """The request was not signed with the endpoint's secret, or not recently."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Mercato-Signature`` header's value for ``body``, signed now."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, tolerance: int = TOLERANCE, now: float | None = None
) -> int:
    """Check a request's ``Mercato-Signature`` ``header`` against its raw ``body``;
    return the signed timestamp, or raise ``SignatureError``."""
    pairs = [part.split("=", 1) for part in (header or "").split(",") if "=" in part]
    timestamps = [value for key, value in pairs if key == "t"]
    # Several v1= may be sent while a secret is rolled: any one of them may match.
    candidates = [value for key, value in pairs if key == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not candidates:
        raise SignatureError("no Mercato-Signature with t= and v1=")
    timestamp = int(timestamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise SignatureError("the signature is too old (or from the future): a replay?")
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("the signature does not match the body")
    return timestamp
