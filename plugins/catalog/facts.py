"""What the catalog knows of a SKU, read once per request for every hook that asks.

A cart asks three hooks about each of its SKUs: ``mercato_sku_details`` (name, link,
picture, tax class, weight), ``mercato_unit_price`` and ``mercato_stock_level``. Each
used to be a query per SKU. Here one statement reads everything about all the SKUs
asked at once (the cart page describes its lines first, so the whole cart is one
query) and keeps it in the session's ``info`` until the session's transaction ends or
the catalog changes in it (a reservation, an edit): what the hooks answer is what that
one read saw, as a read-committed transaction would have.
"""

from dataclasses import dataclass
from itertools import chain
from weakref import WeakSet

from sqlalchemy import Engine, bindparam, event, select, true

from .models import CATALOG_MODELS, CATALOG_TABLES, Product, ProductImage, Variant

MEMO_KEY = "mercato_catalog.facts"
WATCHED_KEY = "mercato_catalog.facts.watched"


@dataclass(frozen=True, slots=True)
class SkuFacts:
    sku: str
    variant_name: str
    product_name: str
    slug: str
    price_amount: int
    price_currency: str
    stock: int
    for_sale: bool  # the variant and its product are both active
    image: dict | None  # the product's first picture: key, extension
    tax_class: str  # the product's
    weight: int  # the variant's, grams per unit

    @property
    def available(self) -> int:
        return self.stock if self.for_sale else 0


_FIRST_IMAGE = (
    select(ProductImage.key, ProductImage.extension)
    .where(ProductImage.product_id == Product.id)
    .order_by(ProductImage.position, ProductImage.id)
    .limit(1)
    .lateral("first_image")
)

_QUERY = (
    select(
        Variant.sku,
        Variant.name,
        Product.name,
        Product.slug,
        Variant.price_amount,
        Variant.price_currency,
        Variant.stock,
        Variant.active & Product.active,
        _FIRST_IMAGE.c.key,
        _FIRST_IMAGE.c.extension,
        Product.tax_class,
        Variant.weight,
    )
    .join(Product, Product.id == Variant.product_id)
    .outerjoin(_FIRST_IMAGE, true())
    # Built once: SQLAlchemy then computes the statement's cache key once, not per read
    # (a tenth of an add to cart's CPU when the statement was built per call).
    .where(Variant.sku.in_(bindparam("skus", expanding=True)))
)
# Session classes whose sessions are watched from the start (``watch_sessions_of``).
_WATCHED_CLASSES: WeakSet = WeakSet()


def facts(dbsession, skus) -> dict[str, SkuFacts | None]:
    """The facts of each of ``skus`` (None for a SKU the catalog does not have)."""
    if MEMO_KEY in dbsession.info and _catalog_changes_pending(dbsession):
        forget(dbsession)  # an edit not flushed yet: the query below flushes it
    _watch(dbsession)
    memo: dict = dbsession.info.setdefault(MEMO_KEY, {})
    missing = [sku for sku in dict.fromkeys(skus) if sku not in memo]
    if missing:
        for row in _read(dbsession, missing):
            sku, variant_name, product_name, slug, amount, currency, stock, for_sale = row[:8]
            key, extension, tax_class, weight = row[8:]
            memo[sku] = SkuFacts(
                sku=sku,
                variant_name=variant_name,
                product_name=product_name,
                slug=slug,
                price_amount=amount,
                price_currency=currency,
                stock=stock,
                for_sale=for_sale,
                image={"key": key, "extension": extension} if key else None,
                tax_class=tax_class,
                weight=weight,
            )
        for sku in missing:
            memo.setdefault(sku, None)
    return {sku: memo[sku] for sku in skus}


def _read(dbsession, skus: list[str]):
    """The rows of ``skus``: through the session once its transaction has begun (anything
    loaded or added: its own changes must show), or when it is bound to a connection (a
    test's); otherwise on a connection of the pool in autocommit, returned at once. An
    add to cart, a page that only reads: one round trip, not BEGIN, SELECT and ROLLBACK
    (the ROLLBACK alone was a sixth of an add's time in the bench)."""
    bind = dbsession.get_bind()
    if dbsession.in_transaction() or not isinstance(bind, Engine):
        return dbsession.execute(_QUERY, {"skus": skus}).all()
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(_QUERY, {"skus": skus}).all()


def forget(dbsession) -> None:
    """The catalog changed in this session (or its transaction ended): read again."""
    dbsession.info.pop(MEMO_KEY, None)


def _catalog_changes_pending(session) -> bool:
    pending = chain(session.new, session.dirty, session.deleted)
    return any(isinstance(obj, CATALOG_MODELS) for obj in pending)


def _watch(session) -> None:
    """Forget the memo whenever ``session`` changes the catalog or ends a transaction.

    On this session alone, from its first memo on: a hook may be given any session
    (the request's, one the kernel opens for a refund, a script's), and sessions of
    another app in the same process, or of one without the catalog, are left alone.
    """
    if session.info.get(WATCHED_KEY) or isinstance(session, tuple(_WATCHED_CLASSES)):
        return
    session.info[WATCHED_KEY] = True
    _listen(session)


def watch_sessions_of(session_factory) -> None:
    """Watch every session ``session_factory`` makes, listened to once (the app's
    request sessions: four ``event.listen`` per session were a tenth of a request's
    work), not one by one as ``_watch`` does for any other session."""
    _listen(session_factory)
    _WATCHED_CLASSES.add(session_factory.class_)


def _listen(target) -> None:
    event.listen(target, "before_flush", _forget_on_change)
    event.listen(target, "do_orm_execute", _forget_on_write)
    event.listen(target, "after_commit", _forget_at_the_end)
    event.listen(target, "after_rollback", _forget_at_the_end)


def _forget_on_change(session, flush_context, instances) -> None:
    if MEMO_KEY in session.info and _catalog_changes_pending(session):
        forget(session)


def _forget_on_write(state) -> None:
    table = getattr(state.statement, "table", None)
    writes = state.is_update or state.is_delete or state.is_insert
    if writes and table is not None and table in CATALOG_TABLES:
        forget(state.session)


def _forget_at_the_end(session) -> None:
    forget(session)
