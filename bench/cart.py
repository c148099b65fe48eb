"""Add-to-cart throughput and p99 through the real app, next to a floor measured in the
same run: a bare Pyramid view doing one Redis HINCRBY, on the same waitress settings.

    .venv/bin/python bench/cart.py [--seconds 8] [--rounds 2] [--connections 8]

Both servers run in a child process (waitress, ``--threads`` threads, 127.0.0.1) with
the same Redis client settings; the load comes from this process over keep-alive
connections, each one a shopper with its own session and cart adding through
``POST /api/cart/lines`` (CSRF header, JSON, pricing and stock hooks — answered from
what the process kept of them, ``mercato.cart.catalog_cache_seconds`` —, the Redis data
manager, the priced cart in the response; the PostgreSQL copy is written behind the
requests by the process's writer thread, whose CPU this process pays too). Rounds
alternate floor and app so drift on a shared machine hits both. Target (issue 22): the
app keeps at least 30% of the floor's requests per second, as ``python -m bench``'s
``cart`` scenario does against its Redis floor.

Servers: PostgreSQL from DATABASE_URL (a superuser URL; default the local server),
where a database of this run's own is created and dropped; Redis from REDIS_URL, else a
database index on the local server claimed like the test suite does, flushed after.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from mercato import Money, hookimpl

HOST = "127.0.0.1"
SKU = "BENCH-1"
TARGET_RATIO = 0.3  # issue 22: the add must also read the session and check CSRF


# ---------------------------------------------------------------------------
# The two servers (run in the child process: ``bench/cart.py --serve KIND``)
# ---------------------------------------------------------------------------


class BenchCatalog:
    """Prices and stock from memory: the bench measures the cart, not a catalog."""

    @hookimpl
    def mercato_unit_price(self, sku, context):
        return Money(1250, context.currency) if sku == SKU else None

    @hookimpl
    def mercato_stock_level(self, sku):
        return None


CATALOG = BenchCatalog()


def floor_app(settings: dict):
    from pyramid.config import Configurator
    from pyramid.response import Response

    from mercato.redis_client import make_redis
    from mercato.settings import resolve_settings

    client = make_redis(resolve_settings(settings, environ={}))

    def increment(request):
        count = client.hincrby(f"floor:{{{request.headers['X-Conn']}}}", "n", 1)
        return Response(json_body={"n": count})

    with Configurator() as config:
        config.add_route("incr", "/incr")
        config.add_view(increment, route_name="incr", request_method="POST")
        return config.make_wsgi_app()


def serve(kind: str, port: int, threads: int, settings: dict) -> None:
    import logging

    import waitress

    from mercato import make_app

    # Under load waitress logs every queued request at WARNING: noise, not a finding.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    app = floor_app(settings) if kind == "floor" else make_app(settings, environ={})
    waitress.serve(app, host=HOST, port=port, threads=threads, _quiet=True)


# ---------------------------------------------------------------------------
# A small HTTP/1.1 keep-alive client: cheap enough not to be what is measured
# ---------------------------------------------------------------------------


class Connection:
    def __init__(self, port: int):
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method: str, path: str, headers: dict, body: bytes = b""):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return self.response()

    def send_raw(self, data: bytes):
        self.sock.sendall(data)
        return self.response()

    def response(self) -> tuple[int, dict, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = int(headers.get("content-length", ["0"])[0])
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk


def app_request(conn: Connection, kind: str) -> bytes:
    """Open a shopper's session; return the request it will repeat: an add to cart, or
    (``kernel``) the cheapest kernel route with the same session cookie."""
    status, headers, body = conn.request("GET", "/api/session/csrf", {})
    assert status == 200, body
    cookie = "; ".join(c.split(";", 1)[0] for c in headers.get("set-cookie", []))
    token = json.loads(body)["csrf_token"]
    if kind == "kernel":
        return f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\n\r\n".encode()
    payload = json.dumps({"sku": SKU, "quantity": 1}).encode()
    head = (
        f"POST /api/cart/lines HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\n"
        f"X-CSRF-Token: {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def floor_request(index: int) -> bytes:
    return (
        f"POST /incr HTTP/1.1\r\nHost: {HOST}\r\nX-Conn: {index}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def merge(self, other: "Result") -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.errors += other.errors


def load(kind: str, port: int, connections: int, warmup: float, seconds: float) -> Result:
    result = Result(kind)
    start_measuring = threading.Event()
    stop = threading.Event()
    lock = threading.Lock()
    ready = threading.Barrier(connections + 1)

    def worker(index: int):
        conn = Connection(port)
        data = floor_request(index) if kind == "floor" else app_request(conn, kind)
        ready.wait()
        latencies, errors = [], 0
        while not stop.is_set():
            began = time.perf_counter()
            status, _, _ = conn.send_raw(data)
            elapsed = time.perf_counter() - began
            if start_measuring.is_set():
                if status == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(warmup)
    start_measuring.set()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    result.seconds = time.perf_counter() - began
    for thread in threads:
        thread.join(timeout=15)
    return result


# ---------------------------------------------------------------------------
# Servers for the run: a database and a Redis index of our own
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def database():
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from mercato.db import sqlalchemy_url

    admin_url = sqlalchemy_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    name = f"mercato_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_database():
    import redis

    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    control = redis.Redis(HOST, 6379, db=0)
    token = uuid.uuid4().hex
    for index in range(1, 16):
        # The test suite's claim protocol: never flush an index another run is using.
        if control.set(f"mercato-test-claim:{index}", token, nx=True, ex=3600):
            client = redis.Redis(HOST, 6379, db=index)
            client.flushdb()
            try:
                yield f"redis://{HOST}:6379/{index}"
            finally:
                client.flushdb()
                if control.get(f"mercato-test-claim:{index}") == token.encode():
                    control.delete(f"mercato-test-claim:{index}")
            return
    raise SystemExit("bench: every Redis database index on 127.0.0.1:6379 is claimed")


@contextmanager
def server(kind: str, threads: int, settings: dict):
    port = free_port()
    child = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
        [sys.executable, __file__, "--serve", kind, "--port", str(port)]
        + ["--threads", str(threads), "--settings", json.dumps(settings)],
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"bench: the {kind} server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        child.terminate()
        child.wait(timeout=10)


def run(args) -> int:
    from mercato.ops import migrate
    from mercato.plugins import make_plugin_manager
    from mercato.settings import resolve_settings

    with database() as database_url, redis_database() as redis_url:
        settings = {
            "sqlalchemy.url": database_url,
            "sqlalchemy.pool_size": str(args.threads),
            "redis.url": redis_url,
            "mercato.secret": "bench-secret",
            "mercato.plugins": "__main__:CATALOG cart",
            # Every connection adds the same SKU for the whole run.
            "mercato.cart.max_per_line": "1000000",
        }
        migrate.run(resolve_settings(settings, environ={}), make_plugin_manager(["cart"]).hook)
        kinds = ("floor", "kernel", "app")
        totals = {kind: Result(kind) for kind in kinds}
        for round_number in range(1, args.rounds + 1):
            for kind in kinds:
                with server(kind, args.threads, settings) as port:
                    result = load(kind, port, args.connections, args.warmup, args.seconds)
                print(
                    f"round {round_number} {kind:5}  {result.rps:8.0f} req/s  "
                    f"p50 {result.percentile(50):6.2f} ms  p99 {result.percentile(99):6.2f} ms"
                    f"  errors {result.errors}",
                    flush=True,
                )
                totals[kind].merge(result)

    floor, app = totals["floor"], totals["app"]
    ratio = app.rps / floor.rps if floor.rps else 0.0
    print()
    print(f"{'':24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    rows = (
        ("floor (HINCRBY view)", floor),
        ("kernel (GET /healthz)", totals["kernel"]),
        ("add to cart (real app)", app),
    )
    for label, result in rows:
        print(
            f"{label:24}{result.rps:10.0f}{result.percentile(50):10.2f}"
            f"{result.percentile(99):10.2f}"
        )
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"ratio app/floor: {ratio:.0%} ({verdict} the {TARGET_RATIO:.0%} target)")
    kernel = totals["kernel"].rps / floor.rps if floor.rps else 0.0
    print(f"ratio kernel/floor: {kernel:.0%} (what any request of the real app keeps)")
    print(
        f"waitress threads {args.threads}, {args.connections} keep-alive connections, "
        f"{args.rounds} x {args.seconds:g} s per server, {os.cpu_count()} CPUs shared "
        "by client and server"
    )
    return 0 if not any(result.errors for result in totals.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per round")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--serve", choices=["floor", "kernel", "app"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.threads, json.loads(args.settings))
        return 0
    # Bounded: whatever happens, the bench ends.
    budget = int(args.rounds * 3 * (args.seconds + args.warmup + 20) + 60)
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("bench: time budget exceeded"))
    signal.alarm(budget)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
