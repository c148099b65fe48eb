"""The kernel's own storefront routes: ``home`` and ``/favicon.ico``.

The home route belongs to the kernel so every plugin can link to it; the catalog (or any
storefront plugin) replaces its view with ``config.add_view(..., route_name="home")``.
"""

from pathlib import Path

from pyramid.response import FileResponse
from pyramid.view import view_config

FAVICON = str(Path(__file__).parent / "static" / "favicon.ico")
WEEK = 7 * 24 * 3600


@view_config(route_name="home", renderer="home.jinja2")
def home(request):
    return {}


@view_config(route_name="favicon", request_method=("GET", "HEAD"))
def favicon(request):
    # Browsers ask every site for it, whatever its pages link to. Its address never
    # changes (unlike the static files'), so it is kept a week, not for ever.
    return FileResponse(FAVICON, request, cache_max_age=WEEK, content_type="image/x-icon")


def includeme(config):
    config.add_route("home", "/")
    config.add_route("favicon", "/favicon.ico")
    config.scan(__name__)
