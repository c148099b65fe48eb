"""The OpenAPI document (``/api/openapi.json``) against the app's own routes: every
``/api`` route and method of every installed plugin is in it, nothing stale is, and
the suite's response check (``mercato.testing.openapi``) catches answers that break it.
"""

import pytest

from mercato.testing.openapi import ApiDocument

MISDOCUMENTED = "tests.openapi.misdocumented_plugin"
# Views that answer every other method with 405 on purpose: not operations.
REFUSALS = {"method_not_allowed"}


def template_of(pattern: str) -> str:
    """A Pyramid route pattern as an OpenAPI path: ``{sku:.+}`` → ``{sku}``."""
    out, depth, name_done = [], 0, False
    for char in pattern:
        if char == "{":
            depth += 1
            if depth == 1:
                out.append(char)
                name_done = False
                continue
        elif char == "}":
            depth -= 1
            if depth == 0:
                out.append(char)
                continue
        if depth == 0:
            out.append(char)
        elif depth == 1 and not name_done:
            if char == ":":
                name_done = True
            else:
                out.append(char)
    return "".join(out)


def api_operations(testapp) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every view on a route under /api (HEAD goes with GET)."""
    operations = set()
    for entry in testapp.app.registry.introspector.get_category("routes"):
        route = entry["introspectable"]
        if not route["pattern"].startswith("/api/"):
            continue
        for view in entry["related"]:
            if view.category_name != "views":
                continue
            if getattr(view["callable"], "__name__", "") in REFUSALS:
                continue
            methods = view["request_methods"] or ("GET",)
            methods = (methods,) if isinstance(methods, str) else methods
            for method in methods:
                if method not in ("HEAD", "OPTIONS"):
                    operations.add((method, template_of(route["pattern"])))
    return operations


def documented_operations(document: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_route_patterns_read_as_openapi_paths():
    assert template_of("/api/cart/lines/{sku:.+}") == "/api/cart/lines/{sku}"
    assert (
        template_of(r"/api/x/{number}/returns/{id:\d{1,9}}/{action:approve|refuse}")
        == "/api/x/{number}/returns/{id}/{action}"
    )


def test_mercato_openapi_documents_every_api_route_of_every_installed_plugin(every_plugin_app):
    """``every_plugin_app`` runs every installed plugin, the examples' included (a third-party
    plugin's routes are documented through the same hook)."""
    document = every_plugin_app.get("/api/openapi.json").json
    routes = api_operations(every_plugin_app)
    assert ("PUT", "/api/promotions/code") in routes  # an example plugin is in the count
    missing = routes - documented_operations(document)
    assert not missing, f"/api routes missing from the OpenAPI document: {sorted(missing)}"
    stale = documented_operations(document) - routes
    assert not stale, f"documented operations that no route serves: {sorted(stale)}"


def test_the_document_is_openapi_3_1_with_the_auth_schemes_and_shared_errors(every_plugin_app):
    document = every_plugin_app.get("/api/openapi.json").json
    assert document["openapi"] == "3.1.0"
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["sessionCookie"]["name"] == "mercato_session"
    assert schemes["csrfHeader"]["name"] == "X-CSRF-Token"
    refund = document["paths"]["/api/staff/orders/{number}/refunds"]["post"]
    assert {"bearerAuth": []} in refund["security"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in refund["parameters"]
    assert refund["responses"]["4XX"] == {"$ref": "#/components/responses/Error"}
    cart_add = document["paths"]["/api/cart/lines"]["post"]
    assert cart_add["security"] == [{"sessionCookie": [], "csrfHeader": []}]
    assert document["paths"]["/api/products"]["get"]["security"] == [{}, {"sessionCookie": []}]


def test_request_bodies_come_from_the_colander_schemas_that_validate_them(every_plugin_app):
    """The cart's ``LineSchema`` and the refund's ``sku_quantities`` (colander) are
    the documented bodies: their rules show up as JSON Schema."""
    paths = every_plugin_app.get("/api/openapi.json").json["paths"]
    line = paths["/api/cart/lines"]["post"]["requestBody"]["content"]["application/json"]
    assert line["schema"]["required"] == ["sku", "quantity"]
    assert line["schema"]["properties"]["sku"] == {"minLength": 1, "maxLength": 64}
    refund = paths["/api/staff/orders/{number}/refunds"]["post"]["requestBody"]
    lines = refund["content"]["application/json"]["schema"]["properties"]["lines"]
    assert lines["items"]["properties"]["quantity"] == {"type": "integer", "minimum": 1}
    login = paths["/api/session/login"]["post"]["requestBody"]["content"]["application/json"]
    assert set(login["schema"]["required"]) == {"email", "password"}


@pytest.fixture
def misdocumented(make_test_app):
    return make_test_app(plugins=["catalog", MISDOCUMENTED])


def test_an_answer_that_breaks_its_schema_fails_the_test_saying_where(misdocumented):
    assert misdocumented.get("/api/misdocumented/count?count=3").json == {"count": 3}
    with pytest.raises(AssertionError) as caught:
        misdocumented.get("/api/misdocumented/count?count=three")
    assert "GET /api/misdocumented/count answered 200 OK" in str(caught.value)
    assert "at /count: 'three' is not of type 'integer'" in str(caught.value)


def test_an_undocumented_method_or_status_fails_the_test(misdocumented):
    with pytest.raises(AssertionError, match="POST /api/misdocumented/count is not in the"):
        misdocumented.post_json("/api/misdocumented/count", {}, status=400)
    with pytest.raises(AssertionError, match="status 201 of GET /api/misdocumented/teapot"):
        misdocumented.get("/api/misdocumented/teapot")


def test_errors_are_checked_against_the_error_shape():
    """A 4xx must be ``{"error": {"status", "message"}}``, as every plugin answers."""
    document = ApiDocument(
        {
            "openapi": "3.1.0",
            "paths": {"/api/x/{id}": {"get": {"responses": {"4XX": {"$ref": "#/e"}}}}},
            "e": {
                "description": "An error.",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "required": ["error"]},
                    }
                },
            },
        }
    )
    assert document.problems("GET", "/api/x/1", 404, "application/json", {"error": {}}) == []
    assert document.problems("GET", "/api/x/1", 404, "application/json", {"detail": 1}) == [
        "at /: 'error' is a required property"
    ]
    assert document.problems("GET", "/api/x/1", 404, "text/html", None) == [
        "answered text/html, documented: ['application/json']"
    ]
    # No such path (404), or a method the document does not offer (405): refused, as
    # the document says by not listing them.
    assert document.problems("GET", "/api/y", 404, "application/json", {"error": {}}) == []
    assert document.problems("GET", "/api/y", 200, "application/json", {}) == [
        "/api/y is not in the document"
    ]
    assert document.problems("POST", "/api/x/1", 405, "application/json", {"error": {}}) == []
    assert document.problems("POST", "/api/x/1", 200, "application/json", {}) == [
        "POST /api/x/{id} is not in the document"
    ]
