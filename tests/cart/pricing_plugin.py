"""A stand-in catalog for the cart's tests: prices and stock from dicts the tests own.

Enabled by dotted name (``tests.cart.pricing_plugin``); the cart meets it only through
``mercato_unit_price`` and ``mercato_stock_level``, as it meets the real catalog.
"""

from mercato import Adjustment, Money, SkuDetails, hookimpl

PRICES: dict[str, int] = {}  # sku -> unit price in cents; absent: unknown or withdrawn
STOCK: dict[str, int] = {}  # sku -> units that can be sold; absent: not tracked
ADJUSTMENTS: list[tuple[str, int]] = []  # (label, cents) added to every cart
NAMES: dict[str, str] = {}  # sku -> display name; absent: shown by its SKU
FAIL_PRICING: list[str] = []  # set to make pricing the cart fail (an error mid-request)
PRICED: list[str] = []  # every SKU mercato_unit_price was asked about, in order


def reset(prices=None, stock=None) -> None:
    PRICES.clear()
    PRICES.update(prices or {})
    STOCK.clear()
    STOCK.update(stock or {})
    ADJUSTMENTS.clear()
    FAIL_PRICING.clear()
    NAMES.clear()
    PRICED.clear()


@hookimpl
def mercato_unit_price(sku, context):
    PRICED.append(sku)
    cents = PRICES.get(sku)
    return None if cents is None else Money(cents, context.currency)


@hookimpl
def mercato_stock_level(sku):
    return STOCK.get(sku)


@hookimpl
def mercato_price_adjustments(lines, context):
    if FAIL_PRICING:
        raise RuntimeError(FAIL_PRICING[0])
    return [Adjustment(label, Money(cents, context.currency)) for label, cents in ADJUSTMENTS]


@hookimpl
def mercato_sku_details(skus):
    return {
        sku: SkuDetails(name=NAMES[sku], url=f"/p/{sku.lower()}") for sku in skus if sku in NAMES
    }
