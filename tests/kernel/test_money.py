from decimal import Decimal

import pytest

from mercato import Money
from mercato.money import CurrencyMismatch


def test_money_is_integer_minor_units():
    with pytest.raises(TypeError):
        Money(12.5, "EUR")
    with pytest.raises(TypeError):
        Money(True, "EUR")
    with pytest.raises(ValueError):
        Money(100, "XYZ")


def test_arithmetic_keeps_the_currency_and_refuses_to_mix():
    assert Money(1050, "EUR") + Money(25, "EUR") == Money(1075, "EUR")
    assert Money(1050, "EUR") - Money(2000, "EUR") == Money(-950, "EUR")
    assert Money(333, "EUR") * 3 == 3 * Money(333, "EUR") == Money(999, "EUR")
    assert -Money(5, "EUR") == Money(-5, "EUR")
    with pytest.raises(CurrencyMismatch):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(TypeError):
        Money(1, "EUR") * 1.5
    assert sum([Money(1, "EUR"), Money(2, "EUR")], Money.zero("EUR")) == Money(3, "EUR")


def test_percent_rounds_half_even():
    assert Money(1000, "EUR").percent(15) == Money(150, "EUR")
    assert Money(5, "EUR").percent(50) == Money(2, "EUR")  # 2.5 → 2
    assert Money(15, "EUR").percent(50) == Money(8, "EUR")  # 7.5 → 8
    assert Money(999, "EUR").percent(Decimal("19.6")) == Money(196, "EUR")


def test_parse_reads_what_a_person_types_and_refuses_extra_decimals():
    assert Money.parse("12.50", "EUR") == Money(1250, "EUR")
    assert Money.parse(" 7 ", "EUR") == Money(700, "EUR")
    assert Money.parse("1200", "JPY") == Money(1200, "JPY")
    assert Money.parse("1.234", "KWD") == Money(1234, "KWD")
    for bad in ("12.345", "abc", "NaN", "Infinity", ""):
        with pytest.raises(ValueError):
            Money.parse(bad, "EUR")
    with pytest.raises(ValueError):
        Money.parse("1.5", "JPY")


def test_format_follows_locale_and_currency_digits():
    assert Money(123456, "EUR").format("en_US") == "€1,234.56"
    assert Money(123456, "EUR").format("de_DE") == "1.234,56\xa0€"
    assert Money(1200, "JPY").format("ja_JP") == "￥1,200"
    assert Money(-500, "USD").format("en_US") == "-$5.00"
    assert Money(100, "EUR").format("not_a_locale") == "€1.00"
