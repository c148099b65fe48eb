"""A test plugin whose one route fails, whatever path it is given: the error log's line."""

from pyramid.view import view_config

from mercato import hookimpl


@view_config(route_name="explode", renderer="json")
def explode(request):
    raise RuntimeError("a bug")


@hookimpl
def mercato_configure(config):
    config.add_route("explode", r"/explode/{anything:[\s\S]*}")  # newlines too
    config.scan(__name__)
