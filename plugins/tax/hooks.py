"""The tax plugin's hook implementations (its entry point)."""

from pathlib import Path

from mercato import AdminLink, hookimpl

from . import rules, schemas, services
from .sample import add_sample_rates


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_migration_folders():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("mercato_tax:templates", name=".jinja2")
    config.add_route("tax_admin", "/admin/tax")
    config.add_route("tax_admin_new", "/admin/tax/rates/new")
    config.add_route("tax_admin_edit", "/admin/tax/rates/{id}/edit")
    config.add_route("tax_admin_delete", "/admin/tax/rates/{id}/delete")
    config.add_route("tax_admin_import", "/admin/tax/import")
    config.add_route("tax_admin_export", "/admin/tax/export")
    config.scan("mercato_tax.admin")
    config.scan("mercato_tax.admin_csv")


@hookimpl
def mercato_permissions():
    # Staff see the rates (to answer a shopper's question); changing them is the
    # admin's. The admin role holds every permission.
    return {"tax.view": ["staff"], "tax.manage": ["admin"]}


@hookimpl
def mercato_admin_links(request):
    return [AdminLink("Tax rates", request.route_path("tax_admin"), "tax.view")]


@hookimpl
def mercato_sample_data(dbsession, settings, progress):
    added = add_sample_rates(dbsession)
    progress(f"tax: {added} sample rates added" if added else "tax: rates already there, skipped")


@hookimpl
def mercato_tax_lines(lines, adjustments, shipping, context):
    if context.destination is None:
        return None
    if context.request is None:
        raise ValueError("the tax plugin reads its settings from context.request: give one")
    settings = context.request.registry.settings["mercato.tax"]
    home = settings["home_country"]
    book = services.rate_book(context, {context.destination.country, home})
    return rules.tax_lines(
        rules.taxables(lines, adjustments, shipping, context.currency),
        context.destination,
        context.vat_number,
        book,
        home=home,
        prices_include_tax=settings["prices_include_tax"],
    )
