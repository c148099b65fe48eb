"""Stock: non-locking reads, guarded reservations, releases.

A reservation is one ``UPDATE … SET stock = stock - :q WHERE sku = :sku AND
stock >= :q``: PostgreSQL takes the row lock, re-checks the guard against the committed
value and either decrements or matches nothing. No read-then-write window exists, so
concurrent checkouts can never sell more than there is. The statements are ORM-enabled
``update()`` constructs, which zope.sqlalchemy sees, so the transaction commits them.
"""

from collections import Counter

from sqlalchemy import select, update

from mercato import OutOfStock, invalidate_pages

from .events import stock_level_changed
from .models import Product, Variant
from .pagetags import LISTINGS, PRECISE, product_tag

# The product a variant belongs to, returned by the stock UPDATEs: its page is stale.
_PRODUCT_SLUG = select(Product.slug).where(Product.id == Variant.product_id).scalar_subquery()


def _quantities(lines) -> list[tuple[str, int]]:
    """Quantities per SKU, summed, in SKU order.

    Every transaction locks variant rows in the same (sorted) order, so two checkouts
    sharing SKUs queue behind each other instead of deadlocking.
    """
    totals: Counter[str] = Counter()
    for line in lines:
        quantity = line.quantity
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise ValueError(f"{line.sku}: quantity must be a whole number ≥ 0, not {quantity!r}")
        totals[line.sku] += quantity
    return sorted((sku, q) for sku, q in totals.items() if q > 0)


def stock_level(dbsession, sku: str) -> int | None:
    """Units of ``sku`` that can be sold now; 0 when withdrawn; None when not ours."""
    row = dbsession.execute(
        select(Variant.stock, Variant.active).where(Variant.sku == sku)
    ).one_or_none()
    if row is None:
        return None
    return row.stock if row.active else 0


def reserve(dbsession, lines) -> None:
    """Take every line out of stock or raise ``OutOfStock`` for the first that cannot be.

    SKUs the catalog does not know are left to other plugins. On ``OutOfStock`` the
    caller's transaction must abort: earlier lines of the same call were decremented.
    """
    for sku, quantity in _quantities(lines):
        sold = dbsession.execute(
            update(Variant)
            .where(Variant.sku == sku, Variant.active, Variant.stock >= quantity)
            .values(stock=Variant.stock - quantity)
            .returning(_PRODUCT_SLUG, Variant.stock)
            .execution_options(synchronize_session=False, **PRECISE)
        ).one_or_none()
        if sold is not None:
            slug, left = sold
            # Listings show "sold out" and filter on stock: stale only if none is left.
            tags = (product_tag(slug), LISTINGS) if left == 0 else (product_tag(slug),)
            invalidate_pages(dbsession, *tags)
            stock_level_changed(dbsession, sku, left + quantity, left)
            continue
        available = stock_level(dbsession, sku)
        if available is None:
            continue
        raise OutOfStock(sku, quantity, available)


def release(dbsession, lines) -> None:
    """Put every line back into stock (cancellation, refund with restock)."""
    for sku, quantity in _quantities(lines):
        released = dbsession.execute(
            update(Variant)
            .where(Variant.sku == sku)
            .values(stock=Variant.stock + quantity)
            .returning(_PRODUCT_SLUG, Variant.stock)
            .execution_options(synchronize_session=False, **PRECISE)
        ).one_or_none()
        if released is not None:
            slug, stock = released
            # Back in stock from none: the listings showed it sold out.
            tags = (product_tag(slug), LISTINGS) if stock == quantity else (product_tag(slug),)
            invalidate_pages(dbsession, *tags)
