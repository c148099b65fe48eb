"""The OpenAPI 3.1 document of the shop's JSON API, put together from the plugins'
``mercato_openapi()`` fragments (docs/api.md tells a plugin author how to write one).

What this module adds to every fragment, so that plugins only write what is theirs:

- the shared components every fragment may ``$ref``: ``Money``, ``Error``, the error
  responses, the ``IdempotencyKey`` header and the security schemes;
- each ``{name}`` of a path as a string path parameter, unless the fragment declares it;
- the security an operation has unless it says otherwise: staff routes
  (``/api/staff/…``) take an API key (``bearerAuth``) or a staff session, whose unsafe
  requests carry the CSRF token; other unsafe requests need the session and its token;
- the error answers every route may give: ``4XX`` and ``5XX`` in the kernel's shape;
- JSON Schema for any colander schema node found in a fragment (``colander_json``).

Built once per app, on first use, when every plugin has registered its hooks.
"""

import copy
import re
from importlib.metadata import PackageNotFoundError, version

import colander

from .colander_json import to_json_schema

UNSAFE = ("post", "put", "patch", "delete")
METHODS = ("get", "head", *UNSAFE, "options")
PATH_PARAMETER = re.compile(r"{([^}:]+)}")

BASE_COMPONENTS = {
    "schemas": {
        "Money": {
            "type": "object",
            "description": "An amount in minor units (cents) of an ISO 4217 currency.",
            "properties": {
                "amount": {"type": "integer"},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
            "required": ["amount", "currency"],
        },
        "Error": {
            "type": "object",
            "description": "Every error the API answers: the status again and words for "
            "people; ``field`` or ``fields`` name what to correct, ``sku`` the product.",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "integer", "minimum": 400, "maximum": 599},
                        "message": {"type": "string"},
                        "field": {"type": "string"},
                        "sku": {"type": "string"},
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "required": ["status", "message"],
                }
            },
            "required": ["error"],
        },
        "SkuQuantity": {
            "type": "object",
            "properties": {
                "sku": {"type": "string", "minLength": 1, "maxLength": 64},
                "quantity": {"type": "integer", "minimum": 1},
            },
            "required": ["sku", "quantity"],
        },
    },
    "responses": {
        "Error": {
            "description": "Refused (4xx: what to correct, not logged in, not allowed, not "
            "found, a conflict with the current state, too many requests) or failed (5xx: a "
            "service the shop needs is down; the request changed nothing).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    },
    "parameters": {
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Send the same key again when retrying: the request is then "
            "done once, and the retry answers with what the first one did.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[!-~]+$"},
        },
    },
    "securitySchemes": {
        "sessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "mercato_session",
            "description": "A browser or app session: log in with POST /api/session/login.",
        },
        "csrfHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRF-Token",
            "description": "With a session, every POST, PUT, PATCH and DELETE carries the "
            "token of GET /api/session/csrf (or of the login answer).",
        },
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key made by an admin, with the scopes the route needs.",
        },
    },
}
ERROR = {"$ref": "#/components/responses/Error"}


class DocumentError(Exception):
    """Two plugins describe the same operation or component differently."""


def build_document(registry) -> dict:
    """The whole document for the plugins ``registry`` runs."""
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": f"{registry.settings.get('mercato.shop_name') or 'Mercato'} API",
            "version": _version(),
            "description": "The shop's JSON API: catalog, cart, checkout, account and the "
            "staff operations of the enabled plugins. Money is integers in minor units "
            'with a currency; every error is ``{"error": {"status", "message"}}``.',
        },
        "paths": {},
        "components": copy.deepcopy(BASE_COMPONENTS),
    }
    for fragment in reversed(registry.hooks.mercato_openapi()):
        if fragment:
            _merge(document, _converted(fragment))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                _complete(path, method, operation)
    document["paths"] = dict(sorted(document["paths"].items()))
    return document


def document_of(registry) -> dict:
    document = getattr(registry, "mercato_openapi", None)
    if document is None:
        document = registry.mercato_openapi = build_document(registry)
    return document


def _version() -> str:
    try:
        return version("mercato")
    except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
        return "0"


def _converted(value):
    """``value`` with every colander node replaced by its JSON Schema."""
    if isinstance(value, colander.SchemaNode):
        return to_json_schema(value)
    if isinstance(value, dict):
        return {key: _converted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_converted(item) for item in value]
    return value


def _merge(document: dict, fragment: dict) -> None:
    for path, item in fragment.get("paths", {}).items():
        known = document["paths"].setdefault(path, {})
        for key, value in item.items():
            if key in known and known[key] != value:
                raise DocumentError(f"{key.upper()} {path} is described twice, differently.")
            known[key] = value
    for section, entries in fragment.get("components", {}).items():
        known = document["components"].setdefault(section, {})
        for name, value in entries.items():
            if name in known and known[name] != value:
                raise DocumentError(f"components/{section}/{name} is described twice.")
            known[name] = value


def _complete(path: str, method: str, operation: dict) -> None:
    declared = {p.get("name") for p in operation.get("parameters", []) if "$ref" not in p}
    missing = [name for name in PATH_PARAMETER.findall(path) if name not in declared]
    operation["parameters"] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in missing
    ] + operation.get("parameters", [])
    if "security" not in operation:
        operation["security"] = _security(path, method)
    responses = operation.setdefault("responses", {})
    responses.setdefault("4XX", ERROR)
    responses.setdefault("5XX", ERROR)


def _security(path: str, method: str) -> list[dict]:
    session = {"sessionCookie": [], "csrfHeader": []} if method in UNSAFE else {"sessionCookie": []}
    if path.startswith("/api/staff/"):
        return [{"bearerAuth": []}, session]
    if method in UNSAFE:
        return [session]
    return [{}, session]
