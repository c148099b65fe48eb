"""The accounts plugin's hook implementations (its entry point)."""

from markupsafe import Markup
from pyramid.renderers import render

from mercato import hookimpl

from . import cli, openapi, schemas


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("mercato_accounts:templates", name=".jinja2")
    config.include("mercato_accounts.routes")
    config.include("mercato_accounts.api")


@hookimpl
def mercato_cli(subparsers):
    cli.add_commands(subparsers)


# The slots the accounts plugin fills, each with its template: the log in / account
# links of the header, and the navigation between the account's pages (the storefront's
# order pages show it too).
SLOT_TEMPLATES = {
    "header_account": "accounts/_header_links.jinja2",
    "account_nav": "accounts/_nav.jinja2",
}


@hookimpl
def mercato_render_slot(request, name, context):
    template = SLOT_TEMPLATES.get(name)
    if template is None:
        return None
    value = {"current": context.get("current")}
    # The template is autoescaped: its output is HTML built from escaped values.
    return Markup(render(template, value, request=request))  # noqa: S704


@hookimpl
def mercato_openapi():
    return openapi.fragment()
