"""The catalog plugin's hook implementations (its entry point).

``mercato_configure`` does the Pyramid wiring; the other hooks are thin adapters over
the modules that do the work (``inventory``, ``pricing``, ``search``, ``sample`` …).
"""

from pathlib import Path

from mercato import hookimpl

from . import (
    admin_widgets,
    cli,
    facts,
    inventory,
    openapi,
    pagetags,
    present,
    pricing,
    sample,
    schemas,
    seo,
    slots,
)
from .storage import make_storage


@hookimpl
def mercato_settings_schema():
    return seo.with_settings(schemas.Settings())


@hookimpl
def mercato_migration_folders():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def mercato_configure(config):
    registry = config.registry
    registry.catalog_storage = make_storage(registry.settings["mercato.catalog"])
    # Cached pages and the facts a session read go stale on catalog changes made through
    # the app's sessions (and only theirs: another app in the same process watches its own).
    for session_factory in (registry.dbsession_factory, registry.read_dbsession_factory):
        if session_factory is not None:
            pagetags.listen(session_factory)
            facts.watch_sessions_of(session_factory)
    config.add_jinja2_search_path("mercato_catalog:templates", name=".jinja2")
    config.add_static_view("static/catalog", "mercato_catalog:static", cache_max_age=3600)

    config.add_route("catalog_category", "/c/{slug}")
    config.add_route("catalog_product", "/p/{slug}")
    config.add_route("catalog_search", "/search")
    config.add_route("catalog_media", "/media/catalog/*key")
    config.add_route("catalog_api_products", "/api/products")
    config.add_route("catalog_api_product", "/api/products/{slug}")
    config.add_route("catalog_api_search", "/api/search")
    config.add_route("catalog_api_categories", "/api/categories")
    config.add_route("catalog_api_staff_products", "/api/staff/products")
    config.add_route("catalog_api_staff_product", "/api/staff/products/{slug}")
    config.add_route("catalog_admin", "/admin/catalog")
    config.add_route("catalog_admin_new", "/admin/catalog/products/new")
    config.add_route("catalog_admin_edit", "/admin/catalog/products/{slug}/edit")
    config.add_route("catalog_admin_delete", "/admin/catalog/products/{slug}/delete")
    config.add_route("catalog_admin_images", "/admin/catalog/products/{slug}/images")
    config.add_route("catalog_admin_image_delete", "/admin/catalog/images/{id}/delete")
    config.add_route("catalog_admin_categories", "/admin/catalog/categories")
    config.add_route("catalog_admin_category_delete", "/admin/catalog/categories/{slug}/delete")
    config.add_route("catalog_admin_stock", "/admin/catalog/stock")
    config.add_route("catalog_admin_csv", "/admin/catalog/csv")
    config.add_route("catalog_admin_csv_export", "/admin/catalog/csv/export")
    # The storefront pages replace the kernel's placeholder home view (same route).
    config.include("mercato_catalog.views")
    config.include("mercato_catalog.seo")  # robots.txt, sitemaps, head helpers
    config.scan("mercato_catalog.api")
    config.scan("mercato_catalog.staff_api")
    config.include("mercato_catalog.staff_stock_api")
    config.scan("mercato_catalog.admin")
    config.scan("mercato_catalog.admin_products")
    config.scan("mercato_catalog.admin_stock")
    config.scan("mercato_catalog.admin_csv")


@hookimpl
def mercato_permissions():
    return {"catalog.manage": ["staff", "admin"]}


@hookimpl
def mercato_unit_price(sku, context):  # one price whatever the quantity
    session = context.dbsession
    if session is None and context.request is not None:
        session = context.request.dbsession
    if session is None:
        raise ValueError("the catalog prices SKUs from the database: give the context a dbsession")
    return pricing.unit_price(session, sku, context.currency)


@hookimpl
def mercato_stock_level(dbsession, sku):
    known = facts.facts(dbsession, [sku])[sku]
    return None if known is None else known.available


@hookimpl
def mercato_reserve_stock(dbsession, lines):
    inventory.reserve(dbsession, lines)


@hookimpl
def mercato_release_stock(dbsession, lines):
    inventory.release(dbsession, lines)


@hookimpl
def mercato_sample_data(dbsession, settings, progress):
    # The app's resolved settings name the image storage; without them (a bare dict
    # of a script's) the products come without pictures.
    catalog = settings.get("mercato.catalog")
    storage = make_storage(catalog) if catalog else None
    sample.demo_catalog(dbsession, settings["mercato.currency"], progress, storage)


@hookimpl
def mercato_sku_details(request, skus):
    return present.sku_details(request, skus)


@hookimpl
def mercato_render_slot(request, name, context):
    return slots.render_slot(request, name, context)


@hookimpl
def mercato_cli(subparsers):
    cli.add_commands(subparsers)


@hookimpl
def mercato_admin_links(request):
    return admin_widgets.admin_links(request)


@hookimpl
def mercato_admin_widgets(request):
    return admin_widgets.low_stock_panel(request)


@hookimpl
def mercato_openapi():
    return openapi.fragment()
