"""A shop with the real catalog, cart and Stripe plugins (against localstripe) and the
stand-in shipping and tax plugin; orders are placed through the JSON API."""

import pytest
from sqlalchemy.orm import Session

from mercato.testing import login
from mercato_catalog.models import Product, Variant

from .buying import TAXED_PLUGIN, ApiShopper

PLUGINS = ["catalog", "cart", "payments_stripe", "notifications", TAXED_PLUGIN]


@pytest.fixture
def shop(make_test_app, stripe_settings, db_engine, clean_stores):
    with Session(db_engine) as session, session.begin():
        for sku, name, price in (("MUG", "Blue mug", 1250), ("TEE", "Tee", 2000)):
            product = Product(slug=sku.lower(), name=name, active=True)
            product.variants = [
                Variant(sku=sku, price_amount=price, price_currency="EUR", stock=10)
            ]
            session.add(product)
    settings = {
        **stripe_settings,
        "mercato.accounts.bcrypt_rounds": "4",
        "mercato.notifications.transport": "log",
        "mercato.notifications.from_address": "shop@example.com",
    }
    # ``shop(**overrides)``: another setting, such as capturing on fulfilment.
    return lambda **overrides: make_test_app(plugins=PLUGINS, **settings, **overrides)


@pytest.fixture
def shopper(shop, localstripe):
    return ApiShopper(shop(), localstripe)


@pytest.fixture
def staff(shop, staff_user, localstripe):
    app = shop()
    login(app, staff_user.email)
    return ApiShopper(app, localstripe)
