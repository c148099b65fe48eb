"""Sentry, when SENTRY_DSN is set: the error with its request id, and no secret.

The DSN points at a small Sentry ingest stand-in of ours on loopback that records the
envelopes the real sentry-sdk sends over HTTP.
"""

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

PASSWORD = "sentry-must-not-see-this-9431"
TOKEN = "tok_sentry_1a2b3c4d"


@pytest.fixture
def mercato_plugins():
    return []


@pytest.fixture
def ingest():
    envelopes: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            envelopes.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.envelopes = envelopes
    yield server
    server.shutdown()
    server.server_close()


def events(envelopes: list[bytes]) -> list[dict]:
    found = []
    for envelope in envelopes:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def test_an_unhandled_error_reaches_sentry_with_its_request_id_and_no_secret(serve, ingest):
    dsn = f"http://publickey@127.0.0.1:{ingest.server_port}/1"
    server = serve(workers=1, env={"SENTRY_DSN": dsn})
    shopper = requests.Session()
    csrf = shopper.get(server.url + "/api/session/csrf", timeout=10).json()["csrf_token"]
    response = shopper.post(
        f"{server.url}/probe/boom?token={TOKEN}",
        data={"password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
        timeout=10,
    )
    assert response.status_code == 500
    reference = response.headers["X-Request-Id"]

    deadline = time.monotonic() + 20
    while not events(ingest.envelopes) and time.monotonic() < deadline:
        time.sleep(0.2)
    [event] = events(ingest.envelopes)
    assert event["tags"]["request_id"] == reference
    assert event["exception"]["values"][-1]["value"] == "probe failure"
    everything = b"".join(ingest.envelopes).decode()
    for secret in (PASSWORD, TOKEN, csrf, shopper.cookies["mercato_session"]):
        assert secret not in everything
