"""``mercato_tax_lines`` of the tax plugin, called as checkout calls it, on the sample
rates: the demo's cart (TEE 24.00 × 1, MUG 12.50 × 2, shipping 4.90, prices entered
with German VAT) sent to Germany, France, New York, California and a French business
in Germany, then the rules one by one."""

from decimal import Decimal

import pytest
from sqlalchemy import event

from mercato import SHIPPING, Adjustment, ShippingOption
from mercato_tax.rules import spread

from .conftest import Pricing, added, eur, line, pct, rows

CART = [line("TEE", 2400), line("MUG", 1250, quantity=2)]
SHIP = ShippingOption("standard", "Standard", eur(490))
FR_VAT = "FR40303265045"


def test_a_german_consumer_pays_german_vat_inside_the_prices(pricing):
    taxes = pricing.taxes(CART, "DE", shipping=SHIP)
    assert rows(taxes) == [
        ("TEE", "VAT 19%", pct("19"), 383, True),  # 2400 × 19/119 = 383.19
        ("MUG", "VAT 19%", pct("19"), 399, True),  # 2500 × 19/119 = 399.16
        (SHIPPING, "VAT 19%", pct("19"), 78, True),  # 490 × 19/119 = 78.24
    ]
    assert added(taxes) == 0


def test_a_french_consumer_pays_the_same_gross_price_with_french_vat_inside(pricing):
    taxes = pricing.taxes(CART, "FR", shipping=SHIP)
    assert rows(taxes) == [
        ("TEE", "VAT 20%", pct("20"), 400, True),
        ("MUG", "VAT 20%", pct("20"), 417, True),  # 416.67
        (SHIPPING, "VAT 20%", pct("20"), 82, True),  # 81.67
    ]
    assert added(taxes) == 0


def test_new_york_pays_the_net_price_plus_state_sales_tax(pricing):
    taxes = pricing.taxes(CART, "US", "NY", shipping=SHIP)
    assert rows(taxes) == [
        ("TEE", "VAT 19% removed (export)", pct("19"), -383, False),
        ("TEE", "Sales tax NY 4%", pct("4"), 81, False),  # net 2017 × 4 % = 80.68
        ("MUG", "VAT 19% removed (export)", pct("19"), -399, False),
        ("MUG", "Sales tax NY 4%", pct("4"), 84, False),  # net 2101 × 4 % = 84.04
        (SHIPPING, "VAT 19% removed (export)", pct("19"), -78, False),
        (SHIPPING, "Sales tax NY 4%", pct("4"), 16, False),  # net 412 × 4 % = 16.48
    ]
    assert added(taxes) == -679  # total 5390 − 679 = 47.11


def test_california_pays_its_own_state_rate(pricing):
    taxes = pricing.taxes(CART, "US", "CA", shipping=SHIP)
    sales = [r for r in rows(taxes) if r[1].startswith("Sales")]
    assert sales == [
        ("TEE", "Sales tax CA 7.25%", pct("7.25"), 146, False),  # 146.23
        ("MUG", "Sales tax CA 7.25%", pct("7.25"), 152, False),  # 152.32
        (SHIPPING, "Sales tax CA 7.25%", pct("7.25"), 30, False),  # 29.87
    ]
    assert added(taxes) == -860 + 328  # total 48.58


def test_a_business_with_a_french_vat_number_pays_no_vat_in_germany(pricing):
    taxes = pricing.taxes(CART, "DE", vat_number=FR_VAT, shipping=SHIP)
    name = f"VAT 19% reverse charge ({FR_VAT})"
    assert rows(taxes) == [
        ("TEE", name, pct("19"), -383, False),
        ("MUG", name, pct("19"), -399, False),
        (SHIPPING, name, pct("19"), -78, False),
    ]
    assert added(taxes) == -860  # the net price: 45.30


def test_a_german_vat_number_is_not_reverse_charged_by_a_german_shop(pricing):
    assert rows(pricing.taxes(CART, "FR", vat_number="DE123456789")) == rows(
        pricing.taxes(CART, "FR")
    )


def test_greek_vat_numbers_start_with_el_not_gr(pricing):
    reverse = pricing.taxes(CART, "GR", vat_number="EL123456789")
    assert all("reverse charge (EL123456789)" in t.name for t in reverse)
    consumer = pricing.taxes(CART, "GR", vat_number="GR123456789")
    assert [t.name for t in consumer] == ["VAT 24%", "VAT 24%"]
    assert all(t.included for t in consumer)


def test_a_malformed_vat_number_pays_vat(pricing):
    taxes = pricing.taxes(CART, "FR", vat_number="FR123")
    assert [(t.name, t.included) for t in taxes] == [("VAT 20%", True)] * 2


def test_outside_the_eu_a_vat_number_changes_nothing(pricing):
    assert rows(pricing.taxes(CART, "US", "NY", vat_number=FR_VAT)) == rows(
        pricing.taxes(CART, "US", "NY")
    )


def test_reduced_class_uses_the_reduced_rate_and_zero_class_is_not_taxed(pricing):
    cart = [line("BOOK", 1070, tax_class="reduced"), line("GIFT", 500, tax_class="zero")]
    assert rows(pricing.taxes(cart, "DE")) == [("BOOK", "VAT 7%", pct("7"), 70, True)]
    assert rows(pricing.taxes(cart, "FR")) == [("BOOK", "VAT 5.5%", pct("5.5"), 56, True)]
    # Denmark has no reduced rate: the class falls back to the standard one.
    assert rows(pricing.taxes(cart, "DK")) == [("BOOK", "VAT 25%", pct("25"), 214, True)]


def test_a_discount_is_spread_over_the_lines_before_tax(pricing):
    discount = Adjustment(label="Discount", amount=eur(-1000))
    taxes = pricing.taxes(CART, "DE", adjustments=[discount])
    # 1000 split 2400 : 2500 → 489.80 and 510.20: 490 (larger remainder) and 510.
    assert rows(taxes) == [
        ("TEE", "VAT 19%", pct("19"), 305, True),  # 1910 × 19/119 = 304.96
        ("MUG", "VAT 19%", pct("19"), 318, True),  # 1990 × 19/119 = 317.73
    ]


def test_a_positive_adjustment_is_not_spread(pricing):
    fee = Adjustment(label="Gift wrap", amount=eur(300))
    assert rows(pricing.taxes(CART, "DE", adjustments=[fee])) == rows(pricing.taxes(CART, "DE"))


def test_each_line_is_rounded_on_its_own(pricing):
    cart = [line("A", 10), line("B", 10), line("C", 10)]
    taxes = pricing.taxes(cart, "DE")
    # 10 × 19/119 = 1.597 → 2 per line: 6, where rounding the sum (4.79) gives 5.
    assert [t.amount.amount for t in taxes] == [2, 2, 2]


def test_shipping_alone_is_taxed_as_a_standard_line(pricing):
    taxes = pricing.taxes([line("BOOK", 1070, tax_class="reduced")], "DE", shipping=SHIP)
    assert rows(taxes)[-1] == (SHIPPING, "VAT 19%", pct("19"), 78, True)


def test_a_state_without_a_rate_only_loses_the_vat(pricing):
    taxes = pricing.taxes(CART, "US", "PR")  # Puerto Rico: not in the sample table
    assert [t.name for t in taxes] == ["VAT 19% removed (export)"] * 2
    oregon = pricing.taxes(CART, "US", "OR")  # a 0 rate: nothing added
    assert [t.name for t in oregon] == ["VAT 19% removed (export)"] * 2


def test_a_country_without_rates_gets_no_tax_lines(pricing):
    assert pricing.taxes(CART, "JP") == []


def test_no_destination_no_tax(pricing):
    assert pricing.taxes(CART, None) is None


@pytest.fixture
def net_pricing(make_test_app, dbsession, sample_rates):
    testapp = make_test_app(plugins=["tax"], **{"mercato.tax.prices_include_tax": "false"})
    return Pricing(testapp, dbsession)


def test_prices_without_tax_get_it_added(net_pricing):
    taxes = net_pricing.taxes(CART, "DE", shipping=SHIP)
    assert rows(taxes) == [
        ("TEE", "VAT 19%", pct("19"), 456, False),
        ("MUG", "VAT 19%", pct("19"), 475, False),
        (SHIPPING, "VAT 19%", pct("19"), 93, False),  # 93.1
    ]


def test_prices_without_tax_pay_only_the_sales_tax_in_new_york(net_pricing):
    taxes = net_pricing.taxes(CART, "US", "NY", shipping=SHIP)
    assert rows(taxes) == [
        ("TEE", "Sales tax NY 4%", pct("4"), 96, False),
        ("MUG", "Sales tax NY 4%", pct("4"), 100, False),
        (SHIPPING, "Sales tax NY 4%", pct("4"), 20, False),  # 19.6
    ]


def test_prices_without_tax_name_the_reverse_charge_with_a_zero_line(net_pricing):
    taxes = net_pricing.taxes(CART, "FR", vat_number="DE123456789")
    assert added(taxes) == 480 + 500  # a German number in France: French VAT, no reverse charge
    taxes = net_pricing.taxes(CART, "DE", vat_number=FR_VAT)
    name = f"VAT reverse charge ({FR_VAT})"
    assert rows(taxes) == [("TEE", name, Decimal(0), 0, False), ("MUG", name, Decimal(0), 0, False)]


def test_rates_are_read_once_per_request(pricing, db_engine):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db_engine, "before_cursor_execute", count)
    try:
        pricing.taxes(CART, "FR", shipping=SHIP)
        pricing.taxes(CART, "FR", vat_number=FR_VAT)
        assert len(statements) == 1 and "tax_rates" in statements[0]
        pricing.request = pricing.new_request()
        pricing.taxes(CART, "US", "NY")
        assert len(statements) == 2
    finally:
        event.remove(db_engine, "before_cursor_execute", count)


def test_spread_is_exact_and_never_more_than_a_line():
    assert spread([2400, 2500], 1000) == [490, 510]
    assert spread([1, 1, 1], 2) == [1, 1, 0]  # ties go to the earlier lines
    assert spread([300, 0, 700], 5000) == [300, 0, 700]  # at most the lines' sum
    assert spread([333, 333, 334], 100) == [33, 33, 34]
    assert sum(spread([997, 13, 1, 4242], 1234)) == 1234
    assert spread([], 100) == [] and spread([500], 0) == [0]
