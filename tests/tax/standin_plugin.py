"""Stand-ins for a catalog and a shipping plugin, so that the tax plugin's tests can
price a cart through ``mercato.price_lines`` as checkout does (enabled by dotted name,
``tests.tax.standin_plugin``)."""

from mercato import Money, ShippingOption, hookimpl

PRICES = {"TEE": 2400, "MUG": 1250}
SHIPPING_PRICE = 490


@hookimpl
def mercato_unit_price(sku, context):
    cents = PRICES.get(sku)
    return None if cents is None else Money(cents, context.currency)


@hookimpl
def mercato_shipping_options(lines, context):
    return [ShippingOption("standard", "Standard", Money(SHIPPING_PRICE, context.currency))]
