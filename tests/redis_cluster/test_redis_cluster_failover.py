"""A Redis Cluster master killed (SIGKILL) while shoppers add to their carts and pay,
over HTTP against the app served by waitress on a real cluster: its replica takes the
slots over, and meanwhile

* no cart is lost: every add answered 2xx is in the cart afterwards;
* no checkout is half done: orders = captured payments = units taken from stock, and
  no authorization is left holding money;
* the only errors are the shop's retryable 503 (``Retry-After``, JSON under /api) —
  never a 500.
"""

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from mercato.orders import models as m
from mercato.testing import base_settings
from mercato_catalog.models import Product, Variant
from tests.checkout.shopping import ADDRESS, card_payment_method, orders, payment_intents, payments

PLUGINS = ["catalog", "cart", "payments_stripe"]
ADD_SKUS = [f"ITEM-{n}" for n in range(6)]
BUY_SKU = "BUY"
STOCK = 1000
ADDERS = 6
BUYERS = 3
BEFORE_KILL_S = 2.0
AFTER_RECOVERY_S = 3.0
OK = {200, 201, 303}


@dataclass
class Answer:
    at: float
    method: str
    path: str
    status: int
    headers: dict
    body: str


@dataclass
class Record:
    """Every answer of the run, from every thread."""

    answers: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, browser: requests.Session, method: str, base: str, path: str, **kwargs):
        try:
            response = browser.request(
                method, base + path, allow_redirects=False, timeout=30, **kwargs
            )
        except requests.RequestException as exc:  # no answer at all: status 0, a failure
            answer = Answer(time.monotonic(), method, path, 0, {}, repr(exc))
        else:
            answer = Answer(
                time.monotonic(),
                method,
                path,
                response.status_code,
                dict(response.headers),
                response.text,
            )
        with self.lock:
            self.answers.append(answer)
        return answer


def stocked_catalog(db_engine) -> None:
    with Session(db_engine) as session, session.begin():
        for sku in [*ADD_SKUS, BUY_SKU]:
            product = Product(slug=sku.lower(), name=f"Item {sku}", active=True)
            product.variants = [
                Variant(sku=sku, price_amount=500, price_currency="EUR", stock=STOCK)
            ]
            session.add(product)


def new_browser(base: str, record: Record) -> tuple[requests.Session, str]:
    browser = requests.Session()
    answer = record.request(browser, "GET", base, "/api/session/csrf")
    assert answer.status == 200, answer
    return browser, json.loads(answer.body)["csrf_token"]


def test_a_master_killed_during_carts_and_checkouts(
    serve_on_cluster,
    redis_cluster,
    migrated_database,
    stripe_settings,
    localstripe,
    db_engine,
    dbsession,
):
    stocked_catalog(db_engine)
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "sqlalchemy.pool_size": "12",
            "mercato.plugins": " ".join(PLUGINS),
            "mercato.ratelimit.enabled": "false",  # the stream comes from one address
            **stripe_settings,
        }
    )
    base = serve_on_cluster(settings, threads=12)
    record = Record()
    stop = threading.Event()
    added_ok = [Counter() for _ in range(ADDERS)]
    added_tried = [Counter() for _ in range(ADDERS)]
    placed = Counter()
    adders = [new_browser(base, record) for _ in range(ADDERS)]
    buyers = [new_browser(base, record) for _ in range(BUYERS)]

    def add(number: int) -> None:
        browser, token = adders[number]
        sent = 0
        while not stop.is_set() and sent < 90 * len(ADD_SKUS):  # 99 at most per line
            sku = ADD_SKUS[sent % len(ADD_SKUS)]
            sent += 1
            added_tried[number][sku] += 1
            answer = record.request(
                browser,
                "POST",
                base,
                "/api/cart/lines",
                json={"sku": sku, "quantity": 1},
                headers={"X-CSRF-Token": token},
            )
            if answer.status in OK:
                added_ok[number][sku] += 1
            time.sleep(0.01)

    def buy(number: int) -> None:
        browser, token = buyers[number]
        stripe = localstripe.client()
        in_cart = False
        while not stop.is_set():
            if not in_cart:
                added = record.request(
                    browser,
                    "POST",
                    base,
                    "/api/cart/lines",
                    json={"sku": BUY_SKU, "quantity": 1},
                    headers={"X-CSRF-Token": token},
                )
                in_cart = added.status in OK
                continue
            addressed = record.request(
                browser,
                "POST",
                base,
                "/checkout/address",
                data={**ADDRESS, "email": f"buyer{number}@example.com", "csrf_token": token},
            )
            if addressed.status not in OK:
                continue
            paid = record.request(
                browser,
                "POST",
                base,
                "/api/checkout/orders",
                json={
                    "method": "stripe_card",
                    "details": {"payment_method": card_payment_method(stripe)},
                },
                headers={"X-CSRF-Token": token},
            )
            placed[number] += paid.status == 201
            # A 503 may come after the order was placed (its cart then emptied): add again.
            in_cart = False

    threads = [threading.Thread(target=add, args=(n,)) for n in range(ADDERS)]
    threads += [threading.Thread(target=buy, args=(n,)) for n in range(BUYERS)]
    for thread in threads:
        thread.start()
    time.sleep(BEFORE_KILL_S)
    victim = next(iter(redis_cluster.masters()))
    replica = redis_cluster.replica_of(victim)
    killed_at = time.monotonic()
    redis_cluster.kill(victim)
    recovery = redis_cluster.wait_until_ready(timeout=30)
    time.sleep(AFTER_RECOVERY_S)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert replica in redis_cluster.masters(), "the killed master's replica took over"

    # Errors only as the shop's retryable answer, never a 500, never no answer.
    statuses = Counter(answer.status for answer in record.answers)
    errors = [answer for answer in record.answers if answer.status not in OK]
    assert {answer.status for answer in errors} <= {503}, [
        (a.method, a.path, a.status, a.body[:200]) for a in errors if a.status != 503
    ]
    for answer in errors:
        assert answer.headers.get("Retry-After"), answer
        if answer.path.startswith("/api/"):
            assert answer.headers["Content-Type"].startswith("application/json"), answer
            assert "try again" in answer.body.lower() or "moment" in answer.body.lower(), answer

    # No cart lost: every add answered 2xx is in its cart.
    for number, (browser, _token) in enumerate(adders):
        cart = None
        for _attempt in range(50):
            answer = record.request(browser, "GET", base, "/api/cart")
            if answer.status == 200:
                cart = {line["sku"]: line["quantity"] for line in json.loads(answer.body)["lines"]}
                break
            time.sleep(0.1)
        assert cart is not None, "the cart answers again once the slot has moved"
        for sku in ADD_SKUS:
            assert added_ok[number][sku] <= cart.get(sku, 0) <= added_tried[number][sku], (
                number,
                sku,
                added_ok[number][sku],
                cart.get(sku, 0),
                added_tried[number][sku],
            )

    # No checkout half done: orders = captured payments = units taken from stock.
    placed_orders = [o for o in orders(dbsession) if o.status in (m.PAID, m.AUTHORIZED)]
    assert len(placed_orders) >= sum(placed.values()) > 0
    units = sum(line.quantity for order in placed_orders for line in order.lines)
    with Session(db_engine) as session:
        stock_left = session.scalar(select(Variant.stock).where(Variant.sku == BUY_SKU))
    assert STOCK - stock_left == units
    intents = payment_intents(localstripe)
    assert sum(pi.status == "succeeded" for pi in intents) == len(placed_orders)
    assert {pi.status for pi in intents} <= {"succeeded", "canceled"}, "no zombie authorization"
    assert [p for p in payments(dbsession) if p.status in m.LIVE_PAYMENT_STATUSES] == []

    first_error = min((a.at for a in errors), default=killed_at) - killed_at
    last_error = max((a.at for a in errors), default=killed_at) - killed_at
    assert last_error < recovery + 2, "no errors once the replica holds the slots"
    print(
        f"\nfailover: {len(record.answers)} answers {dict(statuses)}; "
        f"slots covered again {recovery:.2f} s after the kill; "
        f"503s from {first_error:+.2f} s to {last_error:+.2f} s; "
        f"{sum(placed.values())} orders placed, {sum(sum(c.values()) for c in added_ok)} adds ok"
    )
