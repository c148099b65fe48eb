"""What fills a page's slots and personal blocks, for the templates (``mercato.templating``)
and for the page cache filling a cached page's holes (``mercato.ops.pagecache``).
"""

from functools import partial

from markupsafe import Markup, escape
from pyramid.csrf import get_csrf_token


def render_slot(request, name: str, context: dict) -> Markup:
    """Every plugin's contribution to the named slot (``mercato_render_slot``)."""
    parts = request.hooks.mercato_render_slot(request=request, name=name, context=context)
    # A plain str from a plugin is escaped: only Markup is trusted as HTML.
    return Markup("").join(escape(part) for part in parts if part is not None)


def render_block(request, template: str) -> Markup:
    """``template`` rendered for ``request``; it sees ``request`` and ``get_csrf_token``.

    Straight through the Jinja2 environment: a block is rendered on every request of
    a cached page, and Pyramid's renderer machinery costs more than the block itself.
    """
    env = request.registry.jinja2_environment
    values = {"request": request, "get_csrf_token": partial(get_csrf_token, request)}
    return Markup(env.get_template(template).render(values))  # noqa: S704 - autoescaped
