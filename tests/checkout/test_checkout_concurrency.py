"""100 shoppers pay at the same moment for 10 units, over HTTP against waitress, with the
real catalog, cart and Stripe plugins: exactly 10 orders, 90 plain "sold out" answers,
and no authorization left holding anyone's money."""

import threading

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from mercato.orders import models as m
from mercato_catalog.models import Product, Variant

from .shopping import ADDRESS, card_payment_method, orders, payment_intents, payments

PLUGINS = ["catalog", "cart", "payments_stripe"]
SHOPPERS = 100
UNITS = 10


@pytest.fixture
def mercato_plugins():
    return PLUGINS


@pytest.fixture
def lamps(db_engine, clean_stores):
    with Session(db_engine) as session, session.begin():
        product = Product(slug="desk-lamp", name="Desk lamp", active=True)
        product.variants = [
            Variant(sku="LAMP-DESK", price_amount=3900, price_currency="EUR", stock=UNITS)
        ]
        session.add(product)
    return "LAMP-DESK"


def ready_browser(base: str, sku: str, number: int) -> tuple[requests.Session, str]:
    """A shopper with the lamp in their cart and their address entered."""
    browser = requests.Session()
    token = browser.get(f"{base}/api/session/csrf", timeout=30).json()["csrf_token"]
    browser.post(
        f"{base}/api/cart/lines",
        json={"sku": sku, "quantity": 1},
        headers={"X-CSRF-Token": token},
        timeout=30,
    ).raise_for_status()
    browser.post(
        f"{base}/checkout/address",
        data={**ADDRESS, "email": f"shopper{number}@example.com", "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    ).raise_for_status()
    browser.close()  # keep the cookies, not an idle connection per shopper
    return browser, token


def test_hundred_concurrent_checkouts_for_ten_units(
    serve, served_settings, lamps, localstripe, dbsession, db_engine
):
    _process, base = serve(served_settings(PLUGINS, **{"sqlalchemy.pool_size": "20"}), threads=24)
    stripe = localstripe.client()
    shoppers = []
    for number in range(SHOPPERS):
        browser, token = ready_browser(base, lamps, number)
        card_id = card_payment_method(stripe)
        shoppers.append((browser, token, card_id))

    answers: list[tuple[int, str]] = []
    start = threading.Barrier(SHOPPERS)

    def pay(browser, token, card):
        start.wait()
        response = browser.post(
            f"{base}/api/checkout/orders",
            json={"method": "stripe_card", "details": {"payment_method": card}},
            headers={"X-CSRF-Token": token},
            timeout=120,
        )
        answers.append((response.status_code, response.text))

    threads = [threading.Thread(target=pay, args=shopper) for shopper in shoppers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * UNITS + [409] * (SHOPPERS - UNITS), statuses
    refusals = [text for status, text in answers if status == 409]
    assert all("Desk lamp" in text for text in refusals), "the catalog names the SKU"
    assert all("sold out" in text for text in refusals)

    paid = orders(dbsession)
    assert len(paid) == UNITS and {o.status for o in paid} == {m.PAID}
    with Session(db_engine) as session:
        assert session.scalar(select(Variant.stock).where(Variant.sku == lamps)) == 0
    intents = payment_intents(localstripe)
    assert sum(pi.status == "succeeded" for pi in intents) == UNITS
    assert {pi.status for pi in intents} <= {"succeeded", "canceled"}, "no zombie authorization"
    held = [p for p in payments(dbsession) if p.status in m.LIVE_PAYMENT_STATUSES]
    assert held == []
