"""What the catalog tells other plugins about its goods, inside the transaction of the
change: ``mercato_product_changed`` when staff create, update or delete a product (a
form, a CSV import, the staff API) and ``mercato_stock_low`` when a sale or an edit takes
a variant's stock down to ``mercato.catalog.low_stock``.

The hooks are reached through the session (``mercato.registry_of``): a script's own
session belongs to no app and tells no one (``mercato catalog sample`` seeds a shop so;
``mercato catalog import`` writes through its app's session, as the admin does).
"""

from sqlalchemy.orm.attributes import set_committed_value

from mercato import registry_of

from . import staff_api  # a module, not its names: staff_api imports this one too


def product_changed(dbsession, product, change: str) -> None:
    """``change`` is ``created``, ``updated`` or ``deleted`` (call it before the delete)."""
    registry = registry_of(dbsession)
    if registry is not None:
        registry.hooks.mercato_product_changed(
            dbsession=dbsession, product=staff_api.staff_product_json(product), change=change
        )


def stock_changed(dbsession, variant, old: int | None, new: int) -> None:
    """A guarded UPDATE set ``variant``'s stock from ``old`` to ``new``; ``old`` is
    None for a new variant (never low "again")."""
    # The UPDATE went around the ORM: the object shows the stock it now has.
    set_committed_value(variant, "stock", new)
    stock_level_changed(dbsession, variant.sku, old, new)


def stock_level_changed(dbsession, sku: str, old: int | None, new: int) -> None:
    registry = registry_of(dbsession)
    if registry is None or old is None:
        return
    threshold = registry.settings["mercato.catalog"]["low_stock"]
    if old > threshold >= new:
        registry.hooks.mercato_stock_low(
            dbsession=dbsession, sku=sku, level=new, threshold=threshold
        )
