"""Fixtures for the tax plugin's tests: an app with the tax plugin (and the default
plugins: accounts, admin …), the sample rates committed, and ``Pricing`` to call the
``mercato_tax_lines`` hook as checkout does, with a real request and database."""

from decimal import Decimal

import pytest
from pyramid.request import Request

from mercato import Destination, Line, Money, PricingContext
from mercato_tax import add_sample_rates


@pytest.fixture
def mercato_plugins():
    return ["tax"]


@pytest.fixture
def sample_rates(dbsession):
    added = add_sample_rates(dbsession)
    dbsession.commit()
    return added


def eur(amount: int) -> Money:
    return Money(amount, "EUR")


def line(sku: str, unit: int, quantity: int = 1, tax_class: str = "standard") -> Line:
    return Line(sku=sku, quantity=quantity, unit_price=eur(unit), tax_class=tax_class)


class Pricing:
    """Calls the app's ``mercato_tax_lines`` hook for a cart and a destination."""

    def __init__(self, testapp, dbsession):
        self.registry = testapp.app.registry
        self.dbsession = dbsession
        self.request = self.new_request()

    def new_request(self):
        request = Request.blank("/")
        request.registry = self.registry
        return request

    def taxes(self, lines, country, region="", vat_number="", adjustments=(), shipping=None):
        destination = Destination(country, region) if country else None
        context = PricingContext(
            currency="EUR",
            dbsession=self.dbsession,
            request=self.request,
            destination=destination,
            vat_number=vat_number,
        )
        return self.registry.hooks.mercato_tax_lines(
            lines=lines, adjustments=list(adjustments), shipping=shipping, context=context
        )


def rows(taxes) -> list[tuple]:
    """``(target, name, rate, amount in cents, included)`` of each tax line."""
    return [(t.target, t.name, t.rate, t.amount.amount, t.included) for t in taxes]


def added(taxes) -> int:
    return sum(t.amount.amount for t in taxes if not t.included)


def pct(text: str) -> Decimal:
    return Decimal(text) / 100


@pytest.fixture
def pricing(app, dbsession, sample_rates):
    return Pricing(app, dbsession)
