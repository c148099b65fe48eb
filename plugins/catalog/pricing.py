"""The base price of a SKU, for the kernel's pricing (``mercato_unit_price``)."""

import logging

from sqlalchemy import select

from mercato import Money

from .models import Product, Variant

log = logging.getLogger(__name__)


def unit_price(dbsession, sku: str, currency: str) -> Money | None:
    """The price of an active variant of an active product, or None (not for sale).

    A variant priced in another currency than the checkout's is not for sale here
    either: converting is a price-list plugin's job, not the catalog's.
    """
    row = dbsession.execute(
        select(Variant.price_amount, Variant.price_currency)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.sku == sku, Variant.active, Product.active)
    ).one_or_none()
    if row is None:
        return None
    if row.price_currency != currency:
        log.warning("catalog: %s is priced in %s, not %s", sku, row.price_currency, currency)
        return None
    return Money(row.price_amount, row.price_currency)
