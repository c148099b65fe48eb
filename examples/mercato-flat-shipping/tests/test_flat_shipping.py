"""The template every plugin's suite starts from: the plugin is installed and listed,
and its one hook does what it says."""

from importlib.metadata import version

from pyramid.request import Request

from mercato import Line, Money, PricingContext
from mercato.testing import describe, make_plugin_manager


def test_plugin_is_installed_and_listed():
    pm = make_plugin_manager(["flat_shipping"])
    info = next(info for info in describe(pm) if info.name == "flat_shipping")
    assert (info.enabled, info.version) == (True, version("mercato-flat-shipping"))
    assert "mercato_price_adjustments" in info.hooks


def test_mercato_price_adjustments_charges_the_rate_until_the_free_threshold(make_test_app):
    app = make_test_app(
        plugins=["flat_shipping"],
        **{"mercato.flat_shipping.rate": "5.90", "mercato.flat_shipping.free_over": "50"},
    )
    request = Request.blank("/")
    request.registry = app.app.registry
    context = PricingContext(currency="EUR", request=request)

    def shipping(cents):
        lines = [Line(sku="TEA", quantity=1, unit_price=Money(cents, "EUR"))]
        [adjustments] = request.registry.hooks.mercato_price_adjustments(
            lines=lines, context=context
        )
        return [(a.label, a.amount.amount) for a in adjustments]

    assert shipping(4999) == [("Shipping", 590)]
    assert shipping(5000) == [("Shipping (free)", 0)]
