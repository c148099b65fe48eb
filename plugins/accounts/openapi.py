"""The accounts' part of the OpenAPI document (``mercato_openapi``): logging in and
out, and the account (``views``). The login body is the login form's schema."""

from .schemas import AddressSchema, EraseAccountSchema, LoginSchema, RegisterSchema

USER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "role": {"type": "string", "enum": ["customer", "staff", "admin"]},
    },
    "required": ["id", "email", "name", "role"],
}
SAVED_ADDRESS = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        **{
            name: {"type": ["string", "null"]}
            for name in ("name", "line1", "line2", "city", "postal_code", "region", "country")
        },
        "phone": {"type": ["string", "null"]},
    },
    "required": ["id", "name", "line1", "city", "postal_code", "country"],
}


def _answer(description: str, properties: dict) -> dict:
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def fragment() -> dict:
    user = {"$ref": "#/components/schemas/User"}
    saved = {"$ref": "#/components/schemas/SavedAddress"}
    address_body = {
        "required": True,
        "content": {"application/json": {"schema": AddressSchema()}},
    }
    address_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0, "maximum": 999999999},
    }
    return {
        "components": {"schemas": {"User": USER, "SavedAddress": SAVED_ADDRESS}},
        "paths": {
            "/api/session/login": {
                "post": {
                    "tags": ["session"],
                    "summary": "Log in",
                    "description": "The session id is rotated: use the CSRF token of the "
                    "answer from now on.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": LoginSchema()}},
                    },
                    "responses": {
                        "200": _answer(
                            "Logged in.", {"user": user, "csrf_token": {"type": "string"}}
                        )
                    },
                }
            },
            "/api/session/logout": {
                "post": {
                    "tags": ["session"],
                    "summary": "Log out",
                    "responses": {"200": _answer("Logged out.", {"ok": {"const": True}})},
                }
            },
            "/api/account/register": {
                "post": {
                    "tags": ["account"],
                    "summary": "Create an account, logged in",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": RegisterSchema()}},
                    },
                    "responses": {
                        "201": _answer(
                            "Created and logged in: use this CSRF token from now on.",
                            {"user": user, "csrf_token": {"type": "string"}},
                        )
                    },
                }
            },
            "/api/account/addresses": {
                "post": {
                    "tags": ["account"],
                    "summary": "Save an address",
                    "requestBody": address_body,
                    "responses": {"201": _answer("Saved.", {"address": saved})},
                }
            },
            "/api/account/addresses/{id}": {
                "put": {
                    "tags": ["account"],
                    "summary": "Change a saved address",
                    "parameters": [address_id],
                    "requestBody": address_body,
                    "responses": {"200": _answer("Saved.", {"address": saved})},
                },
                "delete": {
                    "tags": ["account"],
                    "summary": "Delete a saved address",
                    "parameters": [address_id],
                    "responses": {
                        "200": _answer(
                            "The addresses left.", {"addresses": {"type": "array", "items": saved}}
                        )
                    },
                },
            },
            "/api/account": {
                "get": {
                    "tags": ["account"],
                    "summary": "The logged-in customer and their addresses",
                    "security": [{"sessionCookie": []}],
                    "responses": {
                        "200": _answer(
                            "The account.",
                            {
                                "user": user,
                                "addresses": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/SavedAddress"},
                                },
                            },
                        )
                    },
                },
                "delete": {
                    "tags": ["account"],
                    "summary": "Erase the account (the right to erasure)",
                    "description": "The login, name, addresses and cart are deleted and the "
                    "session is a guest's; orders are kept, no longer linked to an account. "
                    "409 for a staff account.",
                    "security": [{"sessionCookie": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": EraseAccountSchema()}},
                    },
                    "responses": {"204": {"description": "Erased."}},
                },
            },
        },
    }
