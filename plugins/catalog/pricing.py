"""The base price of a SKU, for the kernel's pricing (``mercato_unit_price``)."""

import logging

from mercato import Money

from .facts import facts

log = logging.getLogger(__name__)


def unit_price(dbsession, sku: str, currency: str) -> Money | None:
    """The price of an active variant of an active product, or None (not for sale).

    A variant priced in another currency than the checkout's is not for sale here
    either: converting is a price-list plugin's job, not the catalog's.
    """
    known = facts(dbsession, [sku])[sku]
    if known is None or not known.for_sale:
        return None
    if known.price_currency != currency:
        log.warning("catalog: %s is priced in %s, not %s", sku, known.price_currency, currency)
        return None
    return Money(known.price_amount, known.price_currency)
