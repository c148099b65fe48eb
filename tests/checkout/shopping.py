"""Fixtures and a shopper for the checkout and Stripe tests: a real app with the
payments_stripe plugin against localstripe and the test shop plugin, over real
PostgreSQL and Redis."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from mercato.orders import models as m
from mercato.testing import base_settings, csrf_token, free_port, port_open

from . import shop_plugin

REPO = Path(__file__).resolve().parents[2]
SHOP_PLUGIN = "tests.checkout.shop_plugin"
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"
CARD_3DS = "4000002500003155"

ADDRESS = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
}


@pytest.fixture
def shop_items(db_engine, clean_stores):
    """``shop_items(sku, name, price, stock)`` puts an item in the test shop's table."""
    shop_plugin.metadata.create_all(db_engine)
    shop_plugin.reset()

    def add(sku: str, name: str, price: int, stock: int) -> None:
        with db_engine.begin() as conn:
            conn.execute(
                insert(shop_plugin.items).values(sku=sku, name=name, price=price, stock=stock)
            )

    yield add
    shop_plugin.reset()


@pytest.fixture
def shop_settings(stripe_settings):
    return dict(stripe_settings)


@pytest.fixture
def shop(make_test_app, shop_settings, shop_items):
    return make_test_app(plugins=["payments_stripe", SHOP_PLUGIN], **shop_settings)


@pytest.fixture
def shopper(shop, localstripe):
    return Shopper(shop, localstripe)


def child_env(**extra) -> dict:
    """The environment of a child process: the repository importable, no server URLs."""
    prefixes = ("DATABASE_", "REDIS_", "STRIPE_", "MERCATO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, "PYTHONPATH": str(REPO), **extra}


@pytest.fixture
def served_settings(migrated_database, redis_url, stripe_settings):
    """``served_settings(plugins)`` → the settings of an app served in a subprocess."""

    def settings(plugins: list[str], **overrides) -> dict:
        return base_settings(
            **{
                "sqlalchemy.url": migrated_database,
                "redis.url": redis_url,
                "mercato.plugins": " ".join(plugins),
                **stripe_settings,
                **overrides,
            }
        )

    return settings


@pytest.fixture
def serve(clean_stores):
    """``serve(settings, threads=4, **env)`` → (process, base URL) of the app under waitress."""
    processes = []

    def start(settings: dict, threads: int = 4, **env) -> tuple[subprocess.Popen, str]:
        port = free_port()
        process = subprocess.Popen(  # noqa: S603 (our interpreter, our module)
            [
                sys.executable,
                "-m",
                "tests.checkout.serve_app",
                str(port),
                str(threads),
                json.dumps(settings),
            ],
            cwd=REPO,
            env=child_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port, timeout=0.2):
            assert process.poll() is None and time.monotonic() < deadline, "app did not start"
            time.sleep(0.1)
        return process, f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def card_payment_method(client, number: str = CARD_OK) -> str:
    """A PaymentMethod for test card ``number`` made through the SDK ``client``, as
    Stripe.js makes it in the browser; its id."""
    made = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"},
        }
    )
    return made.id


class Shopper:
    """One browser: its cookies, its cart, its checkout."""

    def __init__(self, app, localstripe):
        self.app = app
        self.stripe = localstripe.client()

    @property
    def token(self) -> str:
        return csrf_token(self.app)

    def add(self, sku: str, quantity: int = 1) -> None:
        self.app.post_json(
            "/test-shop/cart",
            {"sku": sku, "quantity": quantity},
            headers={"X-CSRF-Token": self.token},
        )

    def cart(self) -> dict:
        return self.app.get("/test-shop/cart").json["cart"]

    def address(self, **changes):
        return self.app.post(
            "/checkout/address", {**ADDRESS, **changes, "csrf_token": self.token}, status=303
        )

    def shipping(self, code: str, status=303):
        """Choose a shipping method: the step a shop with a shipping plugin has between
        the address and the review."""
        return self.app.post(
            "/checkout/shipping", {"shipping_method": code, "csrf_token": self.token}, status=status
        )

    def card(self, number: str = CARD_OK) -> str:
        """A PaymentMethod made server-side through the SDK, as Stripe.js would."""
        return card_payment_method(self.stripe, number)

    def pay(self, number: str = CARD_OK, status=303, payment_method: str | None = None):
        return self.app.post(
            "/checkout/payment",
            {
                "method": "stripe_card",
                "details.payment_method": payment_method or self.card(number),
                "csrf_token": self.token,
            },
            status=status,
        )

    def checkout(self, sku: str, quantity: int = 1, number: str = CARD_OK, status=303):
        self.add(sku, quantity)
        self.address()
        return self.pay(number, status=status)


# ---------------------------------------------------------------------------
# Looking at the results
# ---------------------------------------------------------------------------


def stock(dbsession, sku: str) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(shop_plugin.items.c.stock).where(shop_plugin.items.c.sku == sku))


def orders(dbsession) -> list[m.Order]:
    dbsession.expire_all()
    return dbsession.scalars(select(m.Order).order_by(m.Order.id)).all()


def payments(dbsession) -> list[m.Payment]:
    dbsession.expire_all()
    return dbsession.scalars(select(m.Payment).order_by(m.Payment.id)).all()


def outbox_count(dbsession, event: str = "order.placed") -> int:
    return dbsession.scalar(
        text("SELECT count(*) FROM outbox_messages WHERE event = :event"), {"event": event}
    )


def count(dbsession, model) -> int:
    return dbsession.scalar(select(func.count()).select_from(model))


def payment_intents(localstripe) -> list:
    return localstripe.payment_intents()
