"""The template every plugin's suite starts from: the plugin is installed and listed,
and its one hook does what it says."""

from importlib.metadata import version

import pytest
from pyramid.request import Request

from mercato import (
    ConfigurationError,
    Destination,
    Line,
    Money,
    PricingContext,
    hookimpl,
    price_lines,
)
from mercato.testing import describe, make_plugin_manager


def test_plugin_is_installed_and_listed():
    pm = make_plugin_manager(["flat_shipping"])
    info = next(info for info in describe(pm) if info.name == "flat_shipping")
    assert (info.enabled, info.version) == (True, version("mercato-flat-shipping"))
    assert "mercato_shipping_options" in info.hooks


def test_mercato_shipping_options_offers_the_rate_until_the_free_threshold(make_test_app):
    app = make_test_app(
        plugins=["flat_shipping"],
        **{
            "mercato.flat_shipping.rate": "5.90",
            "mercato.flat_shipping.free_over": "50",
            "mercato.flat_shipping.estimate": "2–4 working days",
        },
    )
    request = Request.blank("/")
    request.registry = app.app.registry
    context = PricingContext(currency="EUR", request=request, destination=Destination("FR"))

    def shipping(cents):
        lines = [Line(sku="TEA", quantity=1, unit_price=Money(cents, "EUR"))]
        [options] = request.registry.hooks.mercato_shipping_options(lines=lines, context=context)
        return [(o.code, o.name, o.price.amount, o.estimate) for o in options]

    assert shipping(4999) == [("flat_shipping", "Shipping", 590, "2–4 working days")]
    assert shipping(5000) == [("flat_shipping", "Shipping", 0, "2–4 working days")]


class TenEuros:
    """A stand-in catalog: every SKU costs 10.00."""

    @hookimpl
    def mercato_unit_price(self, sku, quantity, context):
        return Money(1000, "EUR")


def test_the_chosen_option_is_a_line_of_the_total(make_test_app):
    app = make_test_app(plugins=["flat_shipping"])
    app.app.registry.plugin_manager.register(TenEuros())
    request = Request.blank("/")
    request.registry = app.app.registry
    context = PricingContext(
        currency="EUR",
        request=request,
        destination=Destination("DE"),
        shipping_method="flat_shipping",
    )
    priced = price_lines(app.app.registry.hooks, [Line(sku="TEA", quantity=2)], context)
    assert (priced.shipping_price.amount, priced.total.amount) == (490, 2490)


def test_an_amount_the_currency_cannot_hold_stops_the_start(make_test_app):
    with pytest.raises(ConfigurationError, match="mercato.flat_shipping.rate"):
        make_test_app(plugins=["flat_shipping"], **{"mercato.flat_shipping.rate": "4.905"})
