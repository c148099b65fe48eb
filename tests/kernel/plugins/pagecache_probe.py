"""A plugin page served through ``mercato.render_cached``, as a third party would write
one: a shared part rendered from a counter, a personal slot with a Money in its
context, and a page whose template eats its personal slot's marker."""

from markupsafe import Markup
from pyramid.response import Response
from pyramid.view import view_config

from mercato import Money, hookimpl, invalidate_pages, page_key, render_cached

RENDERS: list[str] = []


def _page(request, template: str) -> Response:
    name = request.matchdict["name"]

    def values():
        RENDERS.append(name)
        return {"name": name, "renders": len(RENDERS), "price": Money(1999, "EUR")}

    body = render_cached(
        request, template, key=page_key(template, name), tags=(f"probe:{name}",), values=values
    )
    return Response(body, content_type="text/html", charset="utf-8")


@view_config(route_name="probe_page")
def probe_page(request):
    return _page(request, "pagecache_probe/page.jinja2")


@view_config(route_name="probe_eaten")
def probe_eaten(request):
    return _page(request, "pagecache_probe/eaten.jinja2")


@view_config(route_name="probe_touch", request_method="POST", require_csrf=False)
def probe_touch(request):
    invalidate_pages(request.dbsession, f"probe:{request.matchdict['name']}")
    if request.params.get("fail"):
        raise RuntimeError("the change is rolled back")
    return Response("ok")


@hookimpl
def mercato_render_slot(request, name, context):
    if name == "probe_greeting":
        who = request.headers.get("X-Shopper", "guest")
        return Markup("<p class=greeting>Hello {} ({})</p>").format(who, context["price"].amount)
    return None


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("tests.kernel.plugins:templates", name=".jinja2")
    config.add_route("probe_page", "/probe/{name}")
    config.add_route("probe_eaten", "/probe-eaten/{name}")
    config.add_route("probe_touch", "/probe/{name}/touch")
    config.scan(__name__)
