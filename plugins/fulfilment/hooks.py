"""The fulfilment plugin's hook implementations (its entry point)."""

from pathlib import Path

from mercato import hookimpl

from . import (
    models,  # noqa: F401 (its tables, on mercato.Base)
    openapi,
    schemas,
    slots,
)


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("mercato_fulfilment:templates", name=".jinja2")
    config.include("mercato_fulfilment.routes")


@hookimpl
def mercato_migration_folders():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def mercato_render_slot(request, name, context):
    if name == "admin_order":
        return slots.admin_panel(request, context)
    if name == "admin_order_ship":
        return slots.ship_here(request, context)
    if name == "order_details":
        return slots.customer_section(request, context)
    return None


@hookimpl
def mercato_openapi():
    return openapi.fragment()
