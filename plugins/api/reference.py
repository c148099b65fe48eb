"""The API's description: ``GET /api/openapi.json`` (OpenAPI 3.1, from ``document``)
and ``GET /api/docs``, a reference page made by Swagger UI from that document.

Swagger UI's files come from the ``swagger-ui-py`` package and are served by the shop
itself (``/static/swagger-ui/``): no CDN, and the page keeps the shop's Content
Security Policy (its own script starts Swagger UI; no inline script).
"""

from pyramid.view import view_config

from .document import document_of


def includeme(config):
    config.add_route("api_openapi", "/api/openapi.json")
    config.add_route("api_docs", "/api/docs")
    config.add_static_view("static/swagger-ui", "swagger_ui:static", cache_max_age=3600)
    config.add_static_view("static/api", "mercato_api:static", cache_max_age=3600)
    config.scan(__name__)


@view_config(route_name="api_openapi", request_method="GET", renderer="json")
def openapi_document(request):
    return document_of(request.registry)


@view_config(
    route_name="api_docs", request_method="GET", renderer="mercato_api:templates/docs.jinja2"
)
def reference_page(request):
    return {"document_url": request.route_path("api_openapi")}
