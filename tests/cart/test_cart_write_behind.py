"""The cart's PostgreSQL copy is written behind the requests (mercato_cart.store).

Against real servers: a redis-server of the test's own (killed with SIGKILL, never the
machine's), the app under waitress in a process of its own where a test kills it too,
the machine's PostgreSQL (through a proxy the test takes down). What is proved:

* Redis and the app's process lost at the same instant (the worst case: the snapshots
  still waiting in the process die with it): every add acknowledged more than
  ``BOUND_SECONDS`` before the loss comes back from the PostgreSQL copy;
* Redis alone lost: the app's writer still writes every acknowledged add, and the
  cart comes back whole once Redis is back, empty;
* many adds to one cart within the writer's interval are one upsert of its latest state;
* PostgreSQL away: the snapshots wait and are written when it answers again;
* a cart restored from its copy never has its new changes refused by a snapshot of
  the lost cart written late (the version epoch).
"""

import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from mercato.testing import LOCAL_POSTGRES, TCPProxy, base_settings, free_port, port_open
from mercato_cart.models import CartBackup
from mercato_cart.store import (
    BOUND_SECONDS,
    EPOCH,
    WRITE_EVERY,
    StoredCart,
    write_waiting_backups,
)
from mercato_catalog.models import Product, Variant
from tests.cart.conftest import PLUGINS, Shopper
from tests.shop.test_shop_redis_outage import RedisServer

REPO = Path(__file__).resolve().parents[2]
SKU = "PEN-BLUE"
SHOPPERS = 4


def wait_for_port(port: int, process: subprocess.Popen, log: Path | None = None) -> None:
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port, timeout=0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail("server did not start: " + (log.read_text()[-2000:] if log else ""))
        time.sleep(0.05)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)  # the outage tests': kill, start again on its port
    yield server
    server.stop()


@pytest.fixture
def served(clean_stores, tmp_path):
    """``served(settings)`` → (process, port) of the app under waitress, 4 threads."""
    processes = []

    def start(settings: dict) -> tuple[subprocess.Popen, int]:
        port = free_port()
        log = tmp_path / f"app-{port}.log"
        with log.open("w") as errors:
            process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                [sys.executable, "-m", "tests.checkout.serve_app", str(port), "4"]
                + [json.dumps(settings)],
                cwd=REPO,
                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        processes.append(process)
        wait_for_port(port, process, log)
        return process, port

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def streaming_shop(database_url: str, redis_server) -> dict:
    """The real catalog and cart on the test's own Redis, with room for a long stream."""
    return base_settings(
        **{
            "sqlalchemy.url": database_url,
            "redis.url": redis_server.url,
            "redis.socket_timeout": "1",
            "mercato.plugins": "catalog cart",
            "mercato.cart.max_per_line": "1000000",
        }
    )


@pytest.fixture
def pen(db_engine, clean_stores):
    """A SKU of the real catalog that never runs out during the stream of adds."""
    with Session(db_engine) as session, session.begin():
        product = Product(slug="blue-pen", name="Blue pen", active=True)
        product.variants = [
            Variant(sku=SKU, price_amount=300, price_currency="EUR", stock=1_000_000)
        ]
        session.add(product)
    return SKU


class HttpShopper:
    """A browser over one keep-alive connection: its cookies, its CSRF token, and every
    add the shop acknowledged, with the time the answer came and the quantity it gave."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.cookies: dict[str, str] = {}
        self.acknowledged: list[tuple[float, int]] = []
        self.token = json.loads(self.request("GET", "/api/session/csrf")[1])["csrf_token"]

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers |= {"Content-Type": "application/json", "X-CSRF-Token": self.token}
        self.conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or ():
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name] = value
        return response.status, data

    @property
    def cart_id(self) -> str:
        return self.cookies["mercato_cart"]

    def add_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                status, data = self.request("POST", "/api/cart/lines", {"sku": SKU, "quantity": 1})
            except (OSError, http.client.HTTPException):
                return  # the shop is gone (killed mid-answer: an incomplete read)
            if status != 200:
                return  # Redis is gone: the shop answers 503
            self.acknowledged.append((time.monotonic(), json.loads(data)["count"]))

    def acknowledged_before(self, moment: float) -> int:
        return max((count for at, count in self.acknowledged if at <= moment), default=0)

    @property
    def most_in_redis(self) -> int:
        """The most the cart can hold: what was acknowledged, and the one add that may
        have reached Redis (and its copy) while its answer was lost with the shop."""
        return (self.acknowledged[-1][1] if self.acknowledged else 0) + 1


def stream_of_adds(shoppers: list[HttpShopper], seconds: float, lose) -> float:
    """Every shopper adds one item after another; after ``seconds``, ``lose()`` runs.
    Returns the moment of the loss: nothing acknowledged after it counts."""
    stop = threading.Event()
    threads = [threading.Thread(target=s.add_until, args=(stop,)) for s in shoppers]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    lost_at = time.monotonic()
    lose()
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return lost_at


def cart_count(shopper: HttpShopper) -> int:
    """How many items the shopper's cart holds, once the shop talks to Redis again.

    After a failure the shop fails fast for ``redis.socket_timeout`` (1 s here); asked
    every 0.2 s it stayed in that state long after Redis was back, so it is asked less
    often than that (polled, not timed)."""
    deadline = time.monotonic() + 30
    while True:
        status, data = shopper.request("GET", "/api/cart")
        if status != 503 or time.monotonic() > deadline:
            assert status == 200, data
            return json.loads(data)["count"]
        time.sleep(1.5)


def copies(db_engine) -> dict[str, StoredCart]:
    with Session(db_engine) as session:
        rows = session.scalars(select(CartBackup)).all()
        return {r.cart_id: StoredCart.from_backup(r.cart_id, r.version, r.lines) for r in rows}


def report(name: str, shoppers: list[HttpShopper], lost_at: float, kept: dict) -> None:
    acknowledged = sum(s.acknowledged_before(lost_at) for s in shoppers)
    back = sum(kept.get(s.cart_id, 0) for s in shoppers)
    last_second = acknowledged - sum(
        s.acknowledged_before(lost_at - BOUND_SECONDS) for s in shoppers
    )
    print(
        f"\n{name}: {acknowledged} adds acknowledged before the loss, {back} came back "
        f"from PostgreSQL, {acknowledged - back} lost; {last_second} were acknowledged "
        f"in the last {BOUND_SECONDS:g} s"
    )


def test_losing_redis_and_the_process_loses_at_most_the_last_second_of_adds(
    redis_server, served, pen, migrated_database, db_engine
):
    settings = streaming_shop(migrated_database, redis_server)
    app, port = served(settings)
    shoppers = [HttpShopper(port) for _ in range(SHOPPERS)]

    def lose_both():
        # The same instant: the snapshots still waiting in the process die with it.
        app.kill()
        redis_server.kill()

    lost_at = stream_of_adds(shoppers, 3.0, lose_both)

    kept = {cart_id: cart.quantity(SKU) for cart_id, cart in copies(db_engine).items()}
    report("Redis and the app killed", shoppers, lost_at, kept)
    for shopper in shoppers:
        assert shopper.acknowledged, "the stream of adds never got going"
        assert (
            shopper.acknowledged_before(lost_at - BOUND_SECONDS)
            <= kept.get(shopper.cart_id, 0)
            <= shopper.most_in_redis
        )

    # Both back, Redis empty: each cart comes back from its copy, by its cookie.
    redis_server.start()
    _, port = served(settings)
    for shopper in shoppers:
        back = HttpShopper(port)
        back.cookies["mercato_cart"] = shopper.cart_id
        assert cart_count(back) == kept.get(shopper.cart_id, 0)
        back.conn.close()
        shopper.conn.close()


def test_losing_redis_alone_loses_no_acknowledged_add(
    redis_server, served, pen, migrated_database, db_engine
):
    settings = streaming_shop(migrated_database, redis_server)
    _, port = served(settings)
    shoppers = [HttpShopper(port) for _ in range(SHOPPERS)]

    lost_at = stream_of_adds(shoppers, 2.0, redis_server.kill)

    # The process lives on: its writer writes what it holds (polled, not timed).
    wanted = {s.cart_id: s.acknowledged_before(lost_at) for s in shoppers}
    deadline = time.monotonic() + 30
    while True:
        kept = {cart_id: cart.quantity(SKU) for cart_id, cart in copies(db_engine).items()}
        if all(kept.get(cart_id, 0) >= count for cart_id, count in wanted.items()):
            break
        assert time.monotonic() < deadline, (kept, wanted)
        time.sleep(WRITE_EVERY)
    report("Redis killed", shoppers, lost_at, kept)
    for shopper in shoppers:
        assert wanted[shopper.cart_id] <= kept[shopper.cart_id] <= shopper.most_in_redis

    redis_server.start()
    for shopper in shoppers:
        assert cart_count(shopper) == kept[shopper.cart_id]
        shopper.conn.close()


def backup_statements(store) -> list[int]:
    """How many rows each statement the cart's writer sends carries."""
    rows: list[int] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "cart_backups" in statement:
            rows.append(len(parameters) if executemany else 1)

    event.listen(store.backup_engine, "before_cursor_execute", seen)
    return rows


def test_many_adds_to_one_cart_are_one_upsert_of_its_latest_state(app, shopper, db_engine):
    store = app.app.registry.cart_store
    written = backup_statements(store)
    # Held by the writer, not written: twenty adds within one of its intervals at most.
    with store.writer._writing:
        for _ in range(20):
            shopper.add("PEN", 1)
    write_waiting_backups()

    (copy,) = copies(db_engine).values()
    assert (copy.version, copy.quantity("PEN")) == (20, 20)
    assert written == [1], "one statement, one row: the cart's latest state"


def test_snapshots_wait_while_postgresql_is_away(
    make_test_app, catalog, migrated_database, db_engine
):
    url = make_url(migrated_database)
    proxy = TCPProxy((url.host or LOCAL_POSTGRES[0], url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = make_test_app(plugins=PLUGINS, **{"sqlalchemy.url": proxied})
    writer = app.app.registry.cart_store.writer
    shopper = Shopper(app)
    try:
        shopper.add("MUG")
        write_waiting_backups()
        proxy.refuse()  # PostgreSQL down: connections cut, new ones refused
        for _ in range(3):
            shopper.add("MUG")  # the stand-in catalog needs no PostgreSQL: adds go on
        failures = writer.failures
        write_waiting_backups()
        assert writer.failures > failures and writer.pending == 1, "kept, one per cart"

        proxy.accept_again()
        write_waiting_backups()
        assert writer.pending == 0
    finally:
        proxy.stop()
    (copy,) = copies(db_engine).values()
    assert (copy.version, copy.quantity("MUG")) == (4, 4)


def test_a_late_snapshot_of_a_lost_cart_never_hides_the_restored_carts_changes(
    app, shopper, redis_client, db_engine
):
    shopper.add("MUG", 2)
    write_waiting_backups()
    (cart_id,) = copies(db_engine)
    redis_client.flushdb()  # Redis loses the cart (and the session) …
    shopper.app.get("/api/cart")  # … which comes back from its copy

    # A snapshot of the lost cart that another process had not written yet.
    app.app.registry.cart_store.save_backups([StoredCart(cart_id, 3, [])])
    assert copies(db_engine)[cart_id].version == 3

    shopper.token = shopper.app.get("/api/session/csrf").json["csrf_token"]
    shopper.add("PEN", 1)
    write_waiting_backups()
    copy = copies(db_engine)[cart_id]
    assert copy.version == EPOCH + 1
    assert [(line.sku, line.quantity) for line in copy.lines] == [("MUG", 2), ("PEN", 1)]
