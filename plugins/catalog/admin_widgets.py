"""What the catalog adds to the admin: its staff pages in the menu and a panel of the
variants running out of stock on the dashboard."""

from markupsafe import Markup
from pyramid.renderers import render
from sqlalchemy import select

from mercato import AdminLink

from .models import Product, Variant

SHOWN = 10


def low_stock(request) -> int:
    """Units left at which a variant counts as low (``mercato.catalog.low_stock``)."""
    return request.registry.settings["mercato.catalog"]["low_stock"]


def admin_links(request) -> list[AdminLink]:
    return [
        AdminLink("Products", request.route_path("catalog_admin"), "catalog.manage"),
        AdminLink("Categories", request.route_path("catalog_admin_categories"), "catalog.manage"),
        AdminLink("Stock", request.route_path("catalog_admin_stock"), "catalog.manage"),
        AdminLink("CSV import/export", request.route_path("catalog_admin_csv"), "catalog.manage"),
    ]


def low_stock_panel(request) -> Markup | None:
    if not request.has_permission("catalog.manage"):
        return None
    threshold = low_stock(request)
    rows = request.dbsession.execute(
        select(Variant.sku, Variant.name, Variant.stock, Product.name, Product.slug)
        .join(Product, Variant.product_id == Product.id)
        .where(Variant.active, Product.active, Variant.stock <= threshold)
        .order_by(Variant.stock, Variant.sku)
        .limit(SHOWN + 1)
    ).all()
    value = {"rows": rows[:SHOWN], "more": len(rows) > SHOWN, "threshold": threshold}
    # The template autoescapes every value: its output is HTML we can vouch for.
    return Markup(render("catalog/admin_low_stock.jinja2", value, request=request))  # noqa: S704
