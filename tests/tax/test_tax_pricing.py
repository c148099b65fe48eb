"""The tax plugin in the kernel's pricing (``mercato.price_lines``), its settings and
its sample data."""

import pytest

from mercato import ConfigurationError, Destination, Line, PricingContext, make_app, price_lines
from mercato.testing import base_settings
from mercato_tax import add_sample_rates

from .conftest import Pricing

PLUGINS = ["tests.tax.standin_plugin", "tax"]
FR_VAT = "FR40303265045"


@pytest.fixture
def shop(make_test_app, dbsession, sample_rates):
    return Pricing(make_test_app(plugins=PLUGINS), dbsession)


def priced(shop, country, region="", vat_number=""):
    context = PricingContext(
        currency="EUR",
        dbsession=shop.dbsession,
        request=shop.new_request(),
        destination=Destination(country, region),
        shipping_method="standard",
        vat_number=vat_number,
    )
    cart = [Line(sku="TEE", quantity=1), Line(sku="MUG", quantity=2)]
    return price_lines(shop.registry.hooks, cart, context)


@pytest.mark.parametrize(
    ("country", "region", "vat_number", "added_tax", "total"),
    [
        ("DE", "", "", 0, 5390),
        ("FR", "", "", 0, 5390),
        ("US", "NY", "", -679, 4711),
        ("US", "CA", "", -532, 4858),
        ("DE", "", FR_VAT, -860, 4530),
    ],
)
def test_the_demo_cart_by_destination(shop, country, region, vat_number, added_tax, total):
    result = priced(shop, country, region, vat_number)
    assert (result.subtotal.amount, result.shipping_price.amount) == (4900, 490)
    assert (result.added_tax().amount, result.total.amount) == (added_tax, total)


def tax_rows(result) -> list[tuple]:
    return [
        (row["label"], row["amount"].amount, row["included"])
        for row in result.summary()
        if row["kind"] == "tax"
    ]


def test_the_summary_shows_each_tax_once_by_name_and_rate(shop):
    assert tax_rows(priced(shop, "DE")) == [("VAT 19%", 860, True)]
    assert tax_rows(priced(shop, "US", "NY")) == [
        ("VAT 19% removed (export)", -860, False),
        ("Sales tax NY 4%", 181, False),
    ]


def test_settings_are_checked_at_start_up(migrated_database, redis_url):
    def start(**tax_settings):
        settings = base_settings(
            **{"sqlalchemy.url": migrated_database, "redis.url": redis_url},
            **{"mercato.plugins": "tax"},
            **{f"mercato.tax.{k}": v for k, v in tax_settings.items()},
        )
        return make_app(settings, environ={})

    with pytest.raises(ConfigurationError, match="home_country"):
        start(home_country="Germany")
    with pytest.raises(ConfigurationError, match="prices_include_tax"):
        start(prices_include_tax="maybe")
    app = start(home_country=" fr ", prices_include_tax="no")
    assert app.registry.settings["mercato.tax"] == {
        "home_country": "FR",
        "prices_include_tax": False,
    }
    app.registry.db_engine.dispose()
    app.registry.redis.close()


def test_sample_rates_fill_an_empty_table_only(dbsession, app):
    assert add_sample_rates(dbsession) == 26 * 2 + 1 + 51  # Denmark has no reduced rate
    assert add_sample_rates(dbsession) == 0
    dbsession.rollback()
    messages = []
    app.app.registry.hooks.mercato_sample_data(
        dbsession=dbsession, settings=app.app.registry.settings, progress=messages.append
    )
    assert messages == ["tax: 104 sample rates added"]
