"""The accounts plugin's hook implementations (its entry point)."""

from markupsafe import Markup
from pyramid.renderers import render

from mercato import hookimpl

from . import cli, schemas


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("mercato_accounts:templates", name=".jinja2")
    config.include("mercato_accounts.routes")


@hookimpl
def mercato_cli(subparsers):
    cli.add_commands(subparsers)


@hookimpl
def mercato_render_slot(request, name, context):
    if name != "header_account":
        return None
    # The template is autoescaped: its output is HTML built from escaped values.
    return Markup(render("accounts/_header_links.jinja2", {}, request=request))  # noqa: S704
