"""A stand-in for the shipping and tax plugins (enabled by dotted name), so the API and
the admin can be tested with orders that carry shipping and tax whatever those plugins
do: two methods to anywhere but Antarctica, and a tax on every line and the shipping —
19 % included in the prices for Germany, 10 % added on top everywhere else."""

from decimal import Decimal

from mercato import SHIPPING, Money, ShippingOption, TaxLine, hookimpl

ADDED = Decimal("0.10")
INCLUDED = Decimal("0.19")


@hookimpl
def mercato_shipping_options(lines, context):
    if context.destination.country == "AQ":
        return []  # "we do not ship there"
    return [
        ShippingOption("std", "Standard", Money(490, context.currency), "2–3 working days"),
        ShippingOption("express", "Express", Money(1290, context.currency), "next day"),
    ]


@hookimpl
def mercato_tax_lines(lines, adjustments, shipping, context):
    priced = [(line.sku, line.total) for line in lines]
    if shipping is not None:
        priced.append((SHIPPING, shipping.price))
    if context.destination.country == "DE":
        return [
            TaxLine("VAT", INCLUDED, amount.tax_included(INCLUDED), True, target)
            for target, amount in priced
        ]
    return [
        TaxLine("Sales tax", ADDED, amount.tax_added(ADDED), False, target)
        for target, amount in priced
    ]
