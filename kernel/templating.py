"""Jinja2 templates: search path, store-owner overrides, slots and money formatting.

Templates are found by name on a search path: the store owner's folder
(``mercato.templates_dir``) first, then every plugin's ``templates`` folder, then the
kernel's. A plugin keeps its templates in a sub-folder named after itself
(``catalog/product.jinja2``) so names never collide, and a store owner overrides one
page by dropping a file with the same name into their folder.
"""

from functools import partial

from jinja2 import BaseLoader, TemplateNotFound, pass_context
from markupsafe import Markup

from .capabilities import has_route
from .places import country_name, country_options
from .slots import render_block, render_slot


def render_now(request, kind: str, name: str, context: dict, fill_now) -> Markup:
    """A personal part rendered at once, the default ``registry.personal_part``; the
    page cache (``mercato.ops.pagecache``) puts its own there, to leave holes in the
    pages it records."""
    return fill_now()


@pass_context
def slot(context, name: str, **kwargs) -> Markup:
    """``{{ slot("nav") }}``: a part of the page that is the same for every shopper."""
    request = context.get("request")
    if request is None:
        return Markup("")
    return render_slot(request, name, kwargs)


@pass_context
def personal_slot(context, name: str, **kwargs) -> Markup:
    """``{{ personal_slot("header_tools") }}``: a slot whose answer depends on the
    shopper (cart, login, CSRF token). A cached page keeps it as a hole, filled on
    every request; its ``kwargs`` must then be JSON data (Money allowed)."""
    request = context.get("request")
    if request is None:
        return Markup("")
    fill_now = partial(render_slot, request, name, kwargs)
    return request.registry.personal_part(request, "slot", name, kwargs, fill_now)


@pass_context
def personal_block(context, template: str) -> Markup:
    """``{{ personal_block("_flashes.jinja2") }}``: a template of its own
    (seeing only ``request`` and ``get_csrf_token()``) rendered for this shopper, a
    hole in a cached page."""
    request = context.get("request")
    if request is None:
        return Markup("")
    fill_now = partial(render_block, request, template)
    return request.registry.personal_part(request, "block", template, {}, fill_now)


@pass_context
def route_served(context, name: str) -> bool:
    """``{% if has_route("logout") %}``: whether a plugin serves that route; a link to a
    switched-off default plugin's page (``no:accounts``) is left out, not a 500."""
    request = context.get("request")
    return request is not None and has_route(request, name)


@pass_context
def money(context, value) -> str:
    """``{{ price|money }}``: a Money formatted in the shop's locale."""
    if value is None:
        return ""
    request = context.get("request")
    locale = request.registry.settings["mercato.locale"] if request is not None else "en_US"
    return value.format(locale)


class RememberMisses(BaseLoader):
    """pyramid_jinja2's loader, remembering the names it did not find.

    pyramid_jinja2 first looks every name up relative to the calling package
    (``mercato_catalog:catalog/product.jinja2``), a miss for every template kept in a
    ``templates`` folder; Jinja2 caches the templates found, never a miss, so each
    render paid for a search of the file system. Used only when templates are not
    reloaded: a template added while the app runs is not looked for again.
    """

    def __init__(self, loader):
        self.loader = loader
        self.missing: set[str] = set()

    @property
    def searchpath(self) -> list:
        return self.loader.searchpath  # pyramid_jinja2 adds folders to it in place

    def get_source(self, environment, template):
        if template in self.missing:
            raise TemplateNotFound(template)
        try:
            return self.loader.get_source(environment, template)
        except TemplateNotFound:
            self.missing.add(template)
            raise


def includeme(config):
    config.registry.personal_part = render_now
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    config.add_jinja2_search_path("mercato:templates", name=".jinja2")

    def register_globals():
        env = config.get_jinja2_environment()
        env.globals["slot"] = slot
        env.globals["personal_slot"] = personal_slot
        env.globals["personal_block"] = personal_block
        env.globals["has_route"] = route_served
        env.globals["country_options"] = country_options
        env.globals["country_name"] = country_name
        env.globals["shop_name"] = config.registry.settings["mercato.shop_name"]
        env.filters["money"] = money
        if not env.auto_reload:
            env.loader = RememberMisses(env.loader)
        config.registry.jinja2_environment = env

    # After pyramid_jinja2 has created the environment (it does so in an action).
    config.action(None, register_globals, order=999)
    config.add_static_view("static/mercato", "mercato:static", cache_max_age=3600)


def add_owner_templates(config):
    """Put the store owner's folder in front of every plugin's templates."""
    folder = config.registry.settings.get("mercato.templates_dir")
    if folder:
        config.add_jinja2_search_path(folder, name=".jinja2", prepend=True)
