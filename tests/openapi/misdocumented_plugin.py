"""A plugin whose API answers do not match what it documents (enabled by dotted name):
the suite's response check must catch each kind of mismatch."""

from pyramid.view import view_config

from mercato import hookimpl


@view_config(route_name="misdocumented_count", request_method="GET", renderer="json")
def count(request):
    # Documented as an integer: ``?count=three`` answers a string, which breaks it.
    given = request.params.get("count", "3")
    return {"count": int(given) if given.isdigit() else given}


@view_config(route_name="misdocumented_count", request_method="POST", renderer="json")
def undocumented_method(request):
    return {"count": 1}


@view_config(route_name="misdocumented_teapot", request_method="GET", renderer="json")
def teapot(request):
    request.response.status_int = 201  # documented: 200 only (and the error ranges)
    return {}


@hookimpl
def mercato_configure(config):
    config.add_route("misdocumented_count", "/api/misdocumented/count")
    config.add_route("misdocumented_teapot", "/api/misdocumented/teapot")
    config.scan(__name__)


@hookimpl
def mercato_openapi():
    answer = {
        "description": "A count.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"count": {"type": "integer"}},
                    "required": ["count"],
                }
            }
        },
    }
    return {
        "paths": {
            "/api/misdocumented/count": {"get": {"responses": {"200": answer}}},
            "/api/misdocumented/teapot": {"get": {"responses": {"200": answer}}},
        }
    }
