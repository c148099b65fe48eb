"""The shipping plugin's hook implementations (its entry point)."""

from pathlib import Path

from mercato import AdminLink, hookimpl

from . import dashboard, sample, schemas, services, slots
from .views import MANAGE


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("mercato_shipping:templates", name=".jinja2")
    config.include("mercato_shipping.routes")


@hookimpl
def mercato_migration_folders():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def mercato_permissions():
    return {MANAGE: ["staff", "admin"]}


@hookimpl
def mercato_shipping_options(lines, context):
    return services.shipping_options(lines, context)


@hookimpl
def mercato_sample_data(dbsession, settings, progress):
    if sample.add_sample_zones(dbsession, settings["mercato.currency"]):
        progress(f"shipping: {len(sample.DEMO_ZONES)} sample zones (Japan is not shipped to)")
    else:
        progress("shipping: zones already there, sample data skipped")


@hookimpl
def mercato_render_slot(request, name, context):
    if name == "cart_after_lines":
        return slots.cart_estimate(request, context)
    return None


@hookimpl
def mercato_admin_links(request):
    return [AdminLink("Shipping", request.route_path("shipping_admin"), MANAGE)]


@hookimpl
def mercato_admin_widgets(request):
    return dashboard.shipping_panel(request)
