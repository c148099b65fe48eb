"""The promotions plugin's part of the shop's OpenAPI document: its JSON endpoint
``/api/promotions/code`` (``views``), as any third-party plugin documents its API."""

CODE = {
    "type": "object",
    "properties": {"code": {"type": ["string", "null"]}},
    "required": ["code"],
}
APPLIED = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
    "required": ["code", "description"],
}


def _operation(summary: str, schema: dict, description: str) -> dict:
    return {
        "tags": ["promotions"],
        "summary": summary,
        "responses": {
            "200": {"description": description, "content": {"application/json": {"schema": schema}}}
        },
    }


def fragment() -> dict:
    apply = _operation("Apply a discount code to the cart", APPLIED, "The code applied.")
    apply["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"code": {"type": "string", "examples": ["SUMMER10"]}},
                    "required": ["code"],
                }
            }
        },
    }
    return {
        "paths": {
            "/api/promotions/code": {
                "get": _operation("The code applied to the cart", CODE, "null without one."),
                "put": apply,
                "delete": _operation("Remove the code", CODE, "Removed: null."),
            }
        }
    }
