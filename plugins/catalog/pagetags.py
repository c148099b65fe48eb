"""Which cached pages a catalog change makes stale (tags of ``mercato.render_cached``).

Product pages depend on their product (``catalog:product:<slug>``: its variants,
prices, stock and images) and on the catalog as a whole (``catalog``: the category
tree in breadcrumbs and navigation). Listings (the home and category pages) depend on
every product they might show (``catalog:listings``): any change to a product makes
them stale too, but for a sale that leaves a variant in stock, which changes nothing
a listing shows (its price, its picture, "sold out" or not).

Every change made through the ORM is seen here at flush time; a bulk
``UPDATE``/``DELETE`` on a catalog table invalidates the whole catalog unless the code
that issued it names the products itself and marks the statement with
``execution_options(**PRECISE)`` (stock reservations do, so a sale makes only that
product's page stale, and the listings when a variant sells out).
"""

from itertools import chain

from sqlalchemy import event, inspect

from mercato import invalidate_pages

from .models import CATALOG_TABLES, Category, Product, ProductCategory, ProductImage, Variant

CATALOG = "catalog"
LISTINGS = "catalog:listings"
PRECISE = {"mercato_catalog_pages_named": True}
_PRODUCT_PARTS = (Variant, ProductImage, ProductCategory)


def product_tag(slug: str) -> str:
    return f"catalog:product:{slug}"


def _tags_of(obj) -> set[str]:
    if isinstance(obj, Product):
        # A renamed slug: both the old page and the new one.
        history = inspect(obj).attrs.slug.history
        slugs = chain(history.added, history.unchanged, history.deleted)
        return {LISTINGS} | {product_tag(slug) for slug in slugs}
    if isinstance(obj, _PRODUCT_PARTS):
        product = getattr(obj, "product", None)
        if product is not None:
            return {LISTINGS, product_tag(product.slug)}
        return {CATALOG}
    if isinstance(obj, Category):
        return {CATALOG}
    return set()


def _changed_objects(session, flush_context, instances) -> None:
    tags: set[str] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        tags |= _tags_of(obj)
    if tags:
        invalidate_pages(session, *tags)


def _bulk_statements(state) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    if state.execution_options.get("mercato_catalog_pages_named"):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and table in CATALOG_TABLES:
        invalidate_pages(state.session, CATALOG)


def listen(session_factory) -> None:
    """Watch the sessions ``session_factory`` makes: the app's, not every session of the
    process (two apps in one process, a script's own session)."""
    event.listen(session_factory, "before_flush", _changed_objects)
    event.listen(session_factory, "do_orm_execute", _bulk_statements)
