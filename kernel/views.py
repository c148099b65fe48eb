"""The kernel's own storefront route: ``home``.

The route belongs to the kernel so every plugin can link to it; the catalog (or any
storefront plugin) replaces its view with ``config.add_view(..., route_name="home")``.
"""

from pyramid.view import view_config


@view_config(route_name="home", renderer="home.jinja2")
def home(request):
    return {}


def includeme(config):
    config.add_route("home", "/")
    config.scan(__name__)
