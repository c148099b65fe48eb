"""Fixtures for the shipping plugin's tests: an app composed with the catalog, the cart
and shipping (the admin and accounts come by default), the demo's zones, and the two
products every composed-shop test buys (TEE 24.00, MUG 12.50; no weight given)."""

import pytest
from sqlalchemy import event

from mercato import Line, Money
from mercato_catalog.models import Product, Variant
from mercato_shipping.models import ShippingMethod, ShippingZone
from mercato_shipping.sample import add_sample_zones

PLUGINS = ["catalog", "cart", "shipping"]


@pytest.fixture
def mercato_plugins():
    return PLUGINS


@pytest.fixture
def demo_zones(dbsession):
    """Germany, the rest of the EU and the United States, as ``mercato demo`` has them."""
    assert add_sample_zones(dbsession, "EUR")
    dbsession.commit()


@pytest.fixture
def products(dbsession):
    for slug, name, sku, price in (
        ("tee", "Organic Tee", "TEE", 2400),
        ("mug", "Blue Mug", "MUG", 1250),
    ):
        product = Product(slug=slug, name=name, description=name, active=True)
        product.variants.append(
            Variant(sku=sku, name="", price_amount=price, price_currency="EUR", stock=50)
        )
        dbsession.add(product)
    dbsession.commit()


def add_zone(dbsession, name, countries=(), regions=(), methods=(), position=10) -> ShippingZone:
    """A zone with methods given as ``ShippingMethod`` keyword dicts (EUR, active)."""
    zone = ShippingZone(
        name=name, countries=list(countries), regions=list(regions), position=position
    )
    for index, fields in enumerate(methods):
        zone.methods.append(
            ShippingMethod(
                **{"currency": "EUR", "active": True, "tiers": [], "position": index, **fields}
            )
        )
    dbsession.add(zone)
    dbsession.commit()
    return zone


def line(sku: str, cents: int, quantity: int = 1, grams: int = 0) -> Line:
    return Line(sku=sku, quantity=quantity, unit_price=Money(cents, "EUR"), weight=grams)


class Statements:
    """The SQL statements sent through ``engine`` while ``count`` runs something."""

    def __init__(self, engine):
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)
        self._engine = engine

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(statement)

    def count(self, call) -> int:
        self.seen.clear()
        call()
        return len(self.seen)

    def close(self):
        event.remove(self._engine, "before_cursor_execute", self._seen)


@pytest.fixture
def statements():
    opened = []

    def watch(engine) -> Statements:
        opened.append(Statements(engine))
        return opened[-1]

    yield watch
    for watcher in opened:
        watcher.close()
