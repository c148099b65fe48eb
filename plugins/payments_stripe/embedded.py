"""localstripe, Stripe's stand-in server, for ``mercato demo`` and the tests.

A real server spoken to over HTTP by the real stripe SDK. Its own CLI binds every
interface, so it is started from Python on 127.0.0.1, from scratch, its store in memory
only. Its fake Stripe.js is served at ``/js.stripe.com/v3/``.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

API_KEY = "sk_test_mercato"
PUBLISHABLE_KEY = "pk_test_mercato"
WEBHOOK_SECRET = "whsec_test_mercato"  # noqa: S105 (localstripe's, for tests only)
# Where the plugin receives Stripe's events (hooks.py routes it).
WEBHOOK_PATH = "/stripe/webhook"
# Deliveries to this address fail at once: tests that want webhooks register their own.
NOWHERE = "http://127.0.0.1:9/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class EmbeddedStripe:
    """localstripe in a subprocess on a free loopback port, from scratch (see module doc).

    Also the server ``mercato_demo_servers`` returns: ``environ``, ``serving(url)``,
    ``stop()``.
    """

    def __init__(self, startup_timeout: float = 20.0):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed code)
            [
                sys.executable,
                "-c",
                "from mercato_payments_stripe.embedded import serve_localstripe; "
                f"serve_localstripe({self.port}, parent={os.getpid()})",
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

    @property
    def environ(self) -> dict:
        """The environment variables that point the plugin here (``mercato demo``)."""
        return {
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": self.url,
            "STRIPE_JS_URL": self.js_url,
        }

    def serving(self, url: str) -> None:
        """The shop listens at ``url``: send it the webhooks."""
        self.send_webhooks_to(url.rstrip("/") + WEBHOOK_PATH)

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


def serve_localstripe(port: int, parent: int | None = None) -> None:
    """Run localstripe's aiohttp app on 127.0.0.1 only, with an empty store kept in memory.

    localstripe pickles its whole store to /tmp/localstripe.pickle after every write (one
    file for every instance on the machine), so each call costs in proportion to all that
    came before; the store is never loaded back here, so it is never written either.
    Its lists are made from an index of the store by kind (``_index_store_by_kind``).
    With ``parent``, it exits once that process is gone: killed, it could not stop us.
    """
    from aiohttp import web
    from localstripe import resources
    from localstripe.server import app

    resources.Store.dump_to_disk = lambda self: None
    _index_store_by_kind(resources)
    if parent is not None:
        threading.Thread(target=_exit_without, args=(parent,), daemon=True).start()

    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _index_store_by_kind(resources) -> None:
    """localstripe lists objects of a kind by scanning every object it holds, and every
    charge it answers with lists its refunds three times (``refunds``,
    ``amount_refunded``, ``refunded``): each PaymentIntent created or captured cost
    three scans of the whole store, so its answers slowed with every object made
    before (the bench's checkout makes five per order; py-spy on localstripe: 35% of
    its samples in those scans after 400 orders). The store keeps, beside its one dict,
    a dict per kind in the same insertion order, and lists read that: the same objects
    in the same order, without the scan."""
    store = resources.store

    class KindIndexedStore(resources.Store):
        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            kind, colon, _ = key.partition(":")
            if colon:
                self.by_kind.setdefault(kind, {})[key] = value

        def __delitem__(self, key):
            super().__delitem__(key)
            kind, colon, _ = key.partition(":")
            if colon:
                self.by_kind.get(kind, {}).pop(key, None)

        def clear(self):
            super().clear()
            self.by_kind.clear()

        def update(self, *args, **kwargs):
            for key, value in dict(*args, **kwargs).items():
                self[key] = value

    # server.py imported this very object: it changes class rather than being replaced.
    store.__class__ = KindIndexedStore
    store.by_kind = {}
    for key, value in list(store.items()):
        kind, colon, _ = key.partition(":")
        if colon:
            store.by_kind.setdefault(kind, {})[key] = value

    def list_all(cls, url, limit=None, starting_after=None, **kwargs):
        # localstripe's StripeObject._api_list_all, the scan replaced by the index.
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        listing = resources.List(url, limit=limit, starting_after=starting_after)
        listing._list = list(store.by_kind.get(cls.object, {}).values())
        return listing

    resources.StripeObject._api_list_all = classmethod(list_all)


def _exit_without(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)  # nothing to save: the store lives in memory only
