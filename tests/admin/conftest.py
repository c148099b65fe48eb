"""Fixtures for the admin's tests: a shop with the real catalog, cart and Stripe
plugins (against localstripe), and orders placed through the real checkout."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mercato.orders import models as m
from mercato.outbox import OutboxMessage
from mercato.testing import csrf_token, login
from mercato_admin.models import AuditEntry
from mercato_catalog.models import Product, Variant
from tests.checkout.shopping import card_payment_method

PLUGINS = ["catalog", "cart", "payments_stripe", "notifications"]
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
}


@pytest.fixture
def mercato_plugins():
    return PLUGINS


@pytest.fixture
def shop_settings(stripe_settings):
    """The app's settings: localstripe, emails to the log, fast password hashes."""
    return {
        **stripe_settings,
        "mercato.accounts.bcrypt_rounds": "4",
        "mercato.notifications.transport": "log",
        "mercato.notifications.from_address": "shop@example.com",
    }


@pytest.fixture
def make_shop(make_test_app, shop_settings):
    """``make_shop(plugins=PLUGINS, **settings)`` → a browser (webtest) on the shop."""

    def factory(plugins=PLUGINS, **overrides):
        return make_test_app(plugins=plugins, **{**shop_settings, **overrides})

    return factory


@pytest.fixture
def shop(make_shop):
    return make_shop()


@pytest.fixture
def staff(shop, staff_user):
    login(shop, staff_user.email)
    return shop


@pytest.fixture
def admin(shop, admin_user):
    login(shop, admin_user.email)
    return shop


@pytest.fixture
def products(db_engine, clean_stores):
    """``products(sku, price=…, stock=…, name=…)`` adds a product with one variant."""

    def add(sku: str, price: int = 2500, stock: int = 10, name: str | None = None) -> str:
        with Session(db_engine) as session, session.begin():
            product = Product(slug=sku.lower(), name=name or sku.title(), active=True)
            product.variants = [
                Variant(sku=sku, price_amount=price, price_currency="EUR", stock=stock)
            ]
            session.add(product)
        return sku

    return add


@dataclass
class Checkout:
    """Places orders as a shopper would: cart, address, a card through localstripe."""

    browser: object
    localstripe: object

    def buy(self, sku: str, quantity: int = 1, email: str = "ada@example.com") -> str:
        token = csrf_token(self.browser)
        self.browser.post_json(
            "/api/cart/lines",
            {"sku": sku, "quantity": quantity},
            headers={"X-CSRF-Token": token},
        )
        self.browser.post(
            "/checkout/address", {**ADDRESS, "email": email, "csrf_token": token}, status=303
        )
        card_id = card_payment_method(self.localstripe.client())
        done = self.browser.post(
            "/checkout/payment",
            {"method": "stripe_card", "details.payment_method": card_id, "csrf_token": token},
            status=303,
        )
        return done.follow().html.find("strong").text


@pytest.fixture
def checkout(make_shop, localstripe):
    """``checkout(**settings).buy(sku, quantity)`` → the number of an order placed through
    the real checkout (paid, unless ``mercato.capture`` is ``fulfilment``)."""

    def factory(**settings):
        return Checkout(make_shop(**settings), localstripe)

    return factory


def order(dbsession, number: str) -> m.Order:
    dbsession.expire_all()
    return dbsession.scalars(select(m.Order).where(m.Order.number == number)).one()


def stock(dbsession, sku: str) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(Variant.stock).where(Variant.sku == sku))


def form_token(page) -> str:
    return page.html.find("input", {"name": "csrf_token"})["value"]


def add_order(
    db_engine,
    number: str,
    *,
    status: str = m.PAID,
    total: int = 1000,
    refunded: int = 0,
    created_at: datetime | None = None,
    email: str = "shopper@example.com",
    customer_id: int | None = None,
) -> str:
    """An order row as checkout leaves it, for listings and figures (no payment)."""
    held = status in (m.PAID, m.FULFILLED, m.PARTIALLY_REFUNDED, m.REFUNDED)
    with Session(db_engine) as session, session.begin():
        session.add(
            m.Order(
                number=number,
                checkout_id=f"checkout-{number}",
                access_token=f"token-{number}",
                customer_id=customer_id,
                email=email,
                status=status,
                currency="EUR",
                subtotal_amount=total,
                total_amount=total,
                amount_captured=total if held else 0,
                amount_refunded=refunded,
                adjustments=[],
                shipping_address={**ADDRESS},
                billing_address={**ADDRESS},
                payment_method="stripe_card",
                created_at=created_at or datetime.now(UTC),
            )
        )
    return number


def audit_entries(dbsession) -> list[AuditEntry]:
    dbsession.expire_all()
    return dbsession.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()


def outbox_messages(dbsession, event: str) -> list[dict]:
    dbsession.expire_all()
    return [
        message.payload
        for message in dbsession.scalars(
            select(OutboxMessage).where(OutboxMessage.event == event).order_by(OutboxMessage.id)
        )
    ]
