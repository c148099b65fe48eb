"""What the catalog adds to the kernel's layout: its stylesheet and script, category
links in the navigation, and a search form in the header."""

import time

from markupsafe import Markup
from pyramid.renderers import render

from . import queries
from .search import clean_query

NAV_TTL = 30.0


def _top_categories(request) -> list:
    # Every page shows the navigation: a per-process copy for a few seconds saves a
    # query per page; a new category appears within NAV_TTL.
    cached = getattr(request.registry, "catalog_nav_cache", None)
    now = time.monotonic()
    if cached is None or cached[0] < now:
        roots = [(node.slug, node.name) for node in queries.category_tree(request.read_dbsession)]
        cached = (now + NAV_TTL, roots)
        request.registry.catalog_nav_cache = cached
    return cached[1]


def _html(template: str, value: dict, request) -> Markup:
    # The template is rendered with autoescape on: its output is safe HTML.
    return Markup(render(template, value, request=request))  # noqa: S704


def render_slot(request, name: str, context: dict):
    if name == "head":
        return _html("catalog/slot_head.jinja2", {}, request)
    if name == "nav":
        value = {"categories": _top_categories(request)}
        return _html("catalog/slot_nav.jinja2", value, request)
    if name == "header_tools":
        on_search = request.matched_route is not None and (
            request.matched_route.name == "catalog_search"
        )
        try:
            q = clean_query(request.GET.get("q")) if on_search else ""
        except UnicodeDecodeError:
            q = ""  # the page itself says the address is broken
        value = {"q": q}
        return _html("catalog/slot_search.jinja2", value, request)
    return None
