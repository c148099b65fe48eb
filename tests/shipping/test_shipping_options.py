"""``mercato_shipping_options``: which zone a destination uses, what each rate type
costs at and around its limits, and one SQL query per pricing."""

from types import SimpleNamespace

import pytest

from mercato import Destination, PricingContext
from mercato.testing import make_plugin_manager
from tests.shipping.conftest import add_zone, line

pytestmark = pytest.mark.usefixtures("demo_zones")


@pytest.fixture
def hooks():
    return make_plugin_manager(["shipping"]).hook


def options(hooks, dbsession, lines, country, region="", request=None, currency="EUR"):
    """``{code: price in cents}`` of every option for ``lines`` shipped there."""
    context = PricingContext(
        currency=currency,
        dbsession=dbsession,
        request=request,
        destination=Destination(country, region),
    )
    found = {}
    for contribution in hooks.mercato_shipping_options(lines=lines, context=context):
        for option in contribution or ():
            assert option.price.currency == currency and option.source == "shipping"
            found[option.code] = option.price.amount
    return found


# The cart every composed-shop test buys: TEE 24.00 × 1 + MUG 12.50 × 2, weight unknown.
CART = [line("TEE", 2400), line("MUG", 1250, quantity=2)]


def test_each_destination_gets_its_zones_methods(hooks, dbsession):
    assert options(hooks, dbsession, CART, "DE") == {"de-standard": 490, "de-express": 990}
    assert options(hooks, dbsession, CART, "FR") == {"eu-standard": 990}
    assert options(hooks, dbsession, CART, "US", "NY") == {"us-international": 1990}
    assert options(hooks, dbsession, CART, "JP") == {}, "no zone names Japan"


def test_names_and_delivery_estimates_reach_the_shopper(hooks, dbsession):
    context = PricingContext(currency="EUR", dbsession=dbsession, destination=Destination("DE"))
    [found] = hooks.mercato_shipping_options(lines=CART, context=context)
    assert [(o.name, o.estimate) for o in found] == [
        ("Standard", "1–3 working days"),
        ("Express", "next working day"),
    ]


def test_a_zone_naming_the_region_beats_the_zone_naming_the_country(hooks, dbsession):
    add_zone(
        dbsession,
        "Alaska and Hawaii",
        regions=["US-AK", "US-HI"],
        methods=[{"code": "us-remote", "name": "Remote", "rate_type": "flat", "price": 2990}],
    )
    assert options(hooks, dbsession, CART, "US", "AK") == {"us-remote": 2990}
    assert options(hooks, dbsession, CART, "US", "HI") == {"us-remote": 2990}
    assert options(hooks, dbsession, CART, "US", "NY") == {"us-international": 1990}
    assert options(hooks, dbsession, CART, "US") == {"us-international": 1990}


def test_a_region_zone_whose_methods_are_paused_ships_nothing(hooks, dbsession):
    """The region's zone still decides: staff paused shipping there, the country's
    zone does not quietly take over."""
    add_zone(
        dbsession,
        "Bavaria",
        regions=["DE-BY"],
        methods=[{"code": "by", "name": "By", "rate_type": "flat", "price": 100, "active": False}],
    )
    assert options(hooks, dbsession, CART, "DE", "BY") == {}
    assert options(hooks, dbsession, CART, "DE", "BE") == {"de-standard": 490, "de-express": 990}


def test_flat_rate_is_free_from_the_threshold_exactly(hooks, dbsession):
    assert options(hooks, dbsession, [line("TEE", 4999)], "DE")["de-standard"] == 490
    assert options(hooks, dbsession, [line("TEE", 5000)], "DE")["de-standard"] == 0
    assert options(hooks, dbsession, [line("TEE", 2500, quantity=2)], "DE")["de-standard"] == 0
    # Express has no threshold.
    assert options(hooks, dbsession, [line("TEE", 90000)], "DE")["de-express"] == 990


@pytest.mark.parametrize(
    ("grams", "price"),
    [(0, 990), (2000, 990), (2001, 1490), (5000, 1490), (5001, 2490), (30000, 2490)],
)
def test_weight_tiers_include_their_limit(hooks, dbsession, grams, price):
    assert options(hooks, dbsession, [line("TEE", 2400, grams=grams)], "FR") == {
        "eu-standard": price
    }


def test_weight_counts_every_unit_and_beyond_the_last_tier_the_method_is_gone(hooks, dbsession):
    assert options(hooks, dbsession, [line("MUG", 1250, quantity=4, grams=500)], "IT") == {
        "eu-standard": 990
    }, "4 × 500 g is 2 kg"
    assert options(hooks, dbsession, [line("MUG", 1250, quantity=5, grams=500)], "IT") == {
        "eu-standard": 1490
    }
    assert options(hooks, dbsession, [line("BOX", 5000, grams=30001)], "IT") == {}


def test_free_over_applies_to_weight_tiers_too(hooks, dbsession):
    assert options(hooks, dbsession, [line("TEE", 9999, grams=4000)], "FR") == {"eu-standard": 1490}
    assert options(hooks, dbsession, [line("TEE", 10000, grams=4000)], "FR") == {"eu-standard": 0}


@pytest.mark.parametrize(("cents", "price"), [(1, 1990), (10000, 1990), (10001, 1490)])
def test_order_value_tiers_follow_the_goods_subtotal(hooks, dbsession, cents, price):
    assert options(hooks, dbsession, [line("TEE", cents)], "US", "CA") == {
        "us-international": price
    }


def test_a_value_tier_list_without_an_open_end_stops_at_its_last_limit(hooks, dbsession):
    tiers = [{"up_to": 5000, "price": 700}, {"up_to": 20000, "price": 300}]
    add_zone(
        dbsession,
        "Switzerland",
        countries=["CH"],
        methods=[{"code": "ch", "name": "Post", "rate_type": "value", "tiers": tiers}],
    )
    assert options(hooks, dbsession, [line("TEE", 5000)], "CH") == {"ch": 700}
    assert options(hooks, dbsession, [line("TEE", 5001)], "CH") == {"ch": 300}
    assert options(hooks, dbsession, [line("TEE", 20001)], "CH") == {}


def test_a_method_saved_in_another_currency_is_not_offered(hooks, dbsession):
    add_zone(
        dbsession,
        "Switzerland",
        countries=["CH"],
        methods=[
            {
                "code": "ch-chf",
                "name": "Post",
                "rate_type": "flat",
                "price": 900,
                "currency": "CHF",
            },
            {"code": "ch-eur", "name": "Post", "rate_type": "flat", "price": 800},
        ],
    )
    assert options(hooks, dbsession, CART, "CH") == {"ch-eur": 800}


def test_one_query_per_request_however_often_it_prices(hooks, dbsession, db_engine, statements):
    counter = statements(db_engine)
    request = SimpleNamespace(dbsession=dbsession)

    def price_three_destinations():
        for country in ("DE", "FR", "JP"):
            options(hooks, dbsession, CART, country, request=request)

    assert counter.count(price_three_destinations) == 1, counter.seen
    assert counter.count(price_three_destinations) == 0, "the request keeps what it read"
    assert counter.count(lambda: options(hooks, dbsession, CART, "DE")) == 1, "no request: one"


def test_nothing_is_read_without_a_destination(hooks, dbsession, db_engine, statements):
    counter = statements(db_engine)
    context = PricingContext(currency="EUR", dbsession=dbsession)
    assert counter.count(lambda: hooks.mercato_shipping_options(lines=CART, context=context)) == 0
