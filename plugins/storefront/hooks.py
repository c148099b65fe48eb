"""The storefront plugin's hook implementations (its entry point)."""

from mercato import hookimpl


@hookimpl
def mercato_configure(config):
    # Template names stay "checkout/…" and "orders/…": a shop's overrides keep working.
    config.add_jinja2_search_path("mercato_storefront:templates", name=".jinja2")
    config.add_static_view("static/storefront", "mercato_storefront:static", cache_max_age=3600)
    config.include("mercato_storefront.routes")
