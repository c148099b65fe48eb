"""End to end with the real first-party plugins: catalog (prices, stock), cart (Redis),
payments_stripe (localstripe) — the kernel's checkout meets them only through hooks."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mercato.orders import models as m
from mercato.testing import csrf_token
from mercato_catalog.models import Product, Variant

from .shopping import ADDRESS, Shopper, orders, outbox_count, payment_intents

PLUGINS = ["catalog", "cart", "payments_stripe"]


@pytest.fixture
def mercato_plugins():
    return PLUGINS


@pytest.fixture
def chair(db_engine, clean_stores):
    with Session(db_engine) as session, session.begin():
        product = Product(slug="oak-chair", name="Oak chair", active=True)
        product.variants = [
            Variant(sku="CHAIR-OAK", price_amount=12000, price_currency="EUR", stock=1)
        ]
        session.add(product)
    return "CHAIR-OAK"


def variant_stock(db_engine, sku: str) -> int:
    with Session(db_engine) as session:
        return session.scalar(select(Variant.stock).where(Variant.sku == sku))


class CatalogShopper(Shopper):
    def add(self, sku: str, quantity: int = 1) -> None:
        self.app.post_json(
            "/api/cart/lines",
            {"sku": sku, "quantity": quantity},
            headers={"X-CSRF-Token": csrf_token(self.app)},
        )

    def cart(self) -> list:
        return [(line["sku"], line["quantity"]) for line in self.app.get("/api/cart").json["lines"]]


@pytest.fixture
def catalog_shop(make_test_app, stripe_settings):
    def browser():
        return make_test_app(plugins=PLUGINS, **stripe_settings)

    return browser


def test_two_shoppers_one_chair_one_order_and_a_clear_answer(
    catalog_shop, chair, db_engine, dbsession, localstripe
):
    first = CatalogShopper(catalog_shop(), localstripe)
    second = CatalogShopper(catalog_shop(), localstripe)
    for shopper in (first, second):
        shopper.add(chair)
        shopper.address(email=f"{id(shopper)}@example.com")

    first.pay(status=303)
    refused = second.pay(status=409)

    assert "sold out" in refused.text
    [order] = orders(dbsession)
    assert order.status == m.PAID and order.total_amount == 12000
    assert variant_stock(db_engine, chair) == 0
    assert first.cart() == [] and second.cart() == [(chair, 1)]
    assert outbox_count(dbsession) == 1
    [paid] = payment_intents(localstripe)
    assert paid.status == "succeeded", "the second shopper's card was never authorized"


def test_stock_taken_after_the_check_voids_the_authorization(
    catalog_shop, chair, db_engine, dbsession, localstripe
):
    shopper = CatalogShopper(catalog_shop(), localstripe)
    shopper.add(chair)
    shopper.address(**{k: v for k, v in ADDRESS.items() if k != "email"})
    review = shopper.app.get("/checkout/payment")
    assert "Pay €120.00" in review.text
    # Sold in the shop's other channel between the page and the click.
    with Session(db_engine) as session, session.begin():
        session.get(Variant, session.scalar(select(Variant.id))).stock = 0

    shopper.pay(status=409)

    assert orders(dbsession) == []
    assert payment_intents(localstripe) == [], "the non-locking check refused it before Stripe"
    assert shopper.cart() == [(chair, 1)]
