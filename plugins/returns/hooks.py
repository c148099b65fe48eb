"""The returns plugin's hook implementations (its entry point)."""

from pathlib import Path

from mercato import AdminLink, hookimpl

from . import openapi, schemas, slots
from .views import MANAGE


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("mercato_returns:templates", name=".jinja2")
    config.include("mercato_returns.routes")


@hookimpl
def mercato_migration_folders():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def mercato_render_slot(request, name, context):
    if name == "order_details":
        return slots.customer_section(request, context)
    if name == "admin_order":
        return slots.admin_panel(request, context)
    return None


@hookimpl
def mercato_admin_links(request):
    return [AdminLink("Returns", request.route_path("returns_admin"), MANAGE)]


@hookimpl
def mercato_openapi():
    return openapi.fragment()
