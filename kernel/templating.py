"""Jinja2 templates: search path, store-owner overrides, slots and money formatting.

Templates are found by name on a search path: the store owner's folder
(``mercato.templates_dir``) first, then every plugin's ``templates`` folder, then the
kernel's. A plugin keeps its templates in a sub-folder named after itself
(``catalog/product.jinja2``) so names never collide, and a store owner overrides one
page by dropping a file with the same name into their folder.
"""

from jinja2 import pass_context
from markupsafe import Markup, escape


@pass_context
def slot(context, name: str, **kwargs) -> Markup:
    """Render every plugin's contribution to the named slot (``mercato_render_slot``)."""
    request = context.get("request")
    if request is None:
        return Markup("")
    parts = request.hooks.mercato_render_slot(request=request, name=name, context=kwargs)
    # A plain str from a plugin is escaped: only Markup is trusted as HTML.
    return Markup("").join(escape(part) for part in parts if part is not None)


@pass_context
def money(context, value) -> str:
    """``{{ price|money }}``: a Money formatted in the shop's locale."""
    if value is None:
        return ""
    request = context.get("request")
    locale = request.registry.settings["mercato.locale"] if request is not None else "en_US"
    return value.format(locale)


def includeme(config):
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    config.add_jinja2_search_path("mercato:templates", name=".jinja2")

    def register_globals():
        env = config.get_jinja2_environment()
        env.globals["slot"] = slot
        env.globals["shop_name"] = config.registry.settings["mercato.shop_name"]
        env.filters["money"] = money

    # After pyramid_jinja2 has created the environment (it does so in an action).
    config.action(None, register_globals, order=999)
    config.add_static_view("static/mercato", "mercato:static", cache_max_age=3600)


def add_owner_templates(config):
    """Put the store owner's folder in front of every plugin's templates."""
    folder = config.registry.settings.get("mercato.templates_dir")
    if folder:
        config.add_jinja2_search_path(folder, name=".jinja2", prepend=True)
