"""The tax on a priced cart, from a book of rates: no database, no request (the rules
themselves are written up in the package's docstring and docs/tax.md)."""

from dataclasses import dataclass
from decimal import Decimal

from mercato import SHIPPING, Destination, Money, TaxLine

from .eu import MEMBER_STATES, vat_number_country
from .models import percent_text

STANDARD = "standard"
ZERO = "zero"  # never taxed, whatever the tables say


@dataclass(frozen=True)
class Rate:
    rate: Decimal  # a fraction: 0.19
    name: str  # "VAT", "Sales tax NY"

    def label(self) -> str:
        return f"{self.name} {percent_text(self.rate)}%"


class RateBook:
    """The rates of the countries a pricing needs, ``(country, region, tax_class, rate,
    name)`` rows in, one rate per line out."""

    def __init__(self, rows):
        self._countries: dict[str, dict[str, dict[str, Rate]]] = {}
        for country, region, tax_class, rate, name in rows:
            regions = self._countries.setdefault(country, {})
            regions.setdefault(region, {})[tax_class] = Rate(Decimal(rate).normalize(), name)

    def knows(self, country: str) -> bool:
        return country in self._countries

    def rate(self, country: str, region: str, tax_class: str) -> Rate | None:
        """The rate for ``tax_class``, else the standard rate; ``None`` when the class is
        ``zero``, the rate is 0 or there is none. A region with rates of its own is
        taxed by them alone; any other region by the country's (region ``""``)."""
        if tax_class == ZERO:
            return None
        regions = self._countries.get(country, {})
        table = regions.get(region) if region in regions else regions.get("", {})
        found = table.get(tax_class) if tax_class in table else table.get(STANDARD)
        return found if found is not None and found.rate > 0 else None


@dataclass(frozen=True)
class Taxable:
    """An amount to tax: a line after its share of the discounts, or the shipping."""

    target: str
    amount: Money
    tax_class: str


def spread(totals: list[int], discount: int) -> list[int]:
    """``discount`` (minor units, positive) split over ``totals`` pro rata, by largest
    remainder: the shares are whole, add up to the discount (at most the totals' sum)
    and no share is more than its line."""
    whole = sum(totals)
    discount = min(discount, whole)
    if discount <= 0:
        return [0] * len(totals)
    exact = [discount * total for total in totals]  # each share, times ``whole``
    shares = [part // whole for part in exact]
    # Ties go to the earlier line, so the same cart always splits the same way.
    by_remainder = sorted(range(len(totals)), key=lambda i: (-(exact[i] % whole), i))
    for index in by_remainder[: discount - sum(shares)]:
        shares[index] += 1
    return shares


def taxables(lines, adjustments, shipping, currency: str) -> list[Taxable]:
    """Each line less its share of the discounts (the negative adjustments; a positive
    adjustment, a fee, is not taxed), then the shipping as a standard-class line."""
    discount = -sum(adj.amount.amount for adj in adjustments if adj.amount.amount < 0)
    shares = spread([line.total.amount for line in lines], discount)
    found = [
        Taxable(line.sku, line.total - Money(share, currency), line.tax_class)
        for line, share in zip(lines, shares, strict=True)
    ]
    if shipping is not None:
        found.append(Taxable(SHIPPING, shipping.price, STANDARD))
    return found


def tax_lines(
    items: list[Taxable],
    destination: Destination,
    vat_number: str,
    book: RateBook,
    *,
    home: str,
    prices_include_tax: bool,
) -> list[TaxLine]:
    """The tax lines for ``items`` sent to ``destination``, each rounded on its own."""
    country = destination.country
    if not book.knows(country):
        return []
    buyer_state = vat_number_country(vat_number)
    if country in MEMBER_STATES and buyer_state is not None and buyer_state != home:
        return _reverse_charge(items, vat_number, book, home, prices_include_tax)
    if country in MEMBER_STATES or country == home:
        return _in_price(items, destination, book, prices_include_tax)
    return _export(items, destination, book, home, prices_include_tax)


def _in_price(items, destination, book, prices_include_tax) -> list[TaxLine]:
    """A consumer in the EU, or a sale at home: the destination's tax, inside the price
    when prices include tax (so the gross price is the same in every EU country)."""
    found = []
    for item in items:
        rate = book.rate(destination.country, destination.region, item.tax_class)
        if rate is None:
            continue
        amount = (
            item.amount.tax_included(rate.rate)
            if prices_include_tax
            else item.amount.tax_added(rate.rate)
        )
        found.append(TaxLine(rate.label(), rate.rate, amount, prices_include_tax, item.target))
    return found


def _reverse_charge(items, vat_number, book, home, prices_include_tax) -> list[TaxLine]:
    """A business of another member state accounts for the VAT itself: it pays the net
    price. Prices with tax lose the home country's VAT; prices without get a 0 line
    that names the reverse charge (an invoice must say why it has no VAT)."""
    found = []
    for item in items:
        if not prices_include_tax:
            name = f"VAT reverse charge ({vat_number})"
            zero = Money.zero(item.amount.currency)
            found.append(TaxLine(name, Decimal(0), zero, False, item.target))
            continue
        rate = book.rate(home, "", item.tax_class)
        if rate is not None:
            name = f"{rate.label()} reverse charge ({vat_number})"
            removed = item.amount.tax_included(rate.rate)
            found.append(TaxLine(name, rate.rate, -removed, False, item.target))
    return found


def _export(items, destination, book, home, prices_include_tax) -> list[TaxLine]:
    """Outside the EU and the home country: no home VAT (taken out of prices that
    include it), and the destination's own tax (a US state's sales tax) added on the
    net price."""
    found = []
    for item in items:
        net = item.amount
        if prices_include_tax:
            vat = book.rate(home, "", item.tax_class)
            if vat is not None:
                removed = item.amount.tax_included(vat.rate)
                net = item.amount - removed
                name = f"{vat.label()} removed (export)"
                found.append(TaxLine(name, vat.rate, -removed, False, item.target))
        rate = book.rate(destination.country, destination.region, item.tax_class)
        if rate is not None:
            found.append(
                TaxLine(rate.label(), rate.rate, net.tax_added(rate.rate), False, item.target)
            )
    return found
