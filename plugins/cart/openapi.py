"""The cart's part of the OpenAPI document (``mercato_openapi``): ``/api/cart``. The
body of a line is the cart's own ``LineSchema``, the one that validates it."""

from .schemas import LineSchema

MONEY = {"$ref": "#/components/schemas/Money"}
MONEY_OR_NULL = {"oneOf": [MONEY, {"type": "null"}]}
TEXT_OR_NULL = {"type": ["string", "null"]}
CART = {
    "type": "object",
    "properties": {
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string"},
                    "name": {"type": "string"},
                    "url": TEXT_OR_NULL,
                    "image_url": TEXT_OR_NULL,
                    "quantity": {"type": "integer", "minimum": 1},
                    "unit_price": MONEY_OR_NULL,
                    "total": MONEY_OR_NULL,
                    "price_was": MONEY_OR_NULL,
                    "available": {"type": ["integer", "boolean", "null"]},
                    "problems": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["sku", "name", "quantity", "unit_price", "total", "problems"],
            },
        },
        "adjustments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "amount": MONEY,
                    "code": TEXT_OR_NULL,
                    "source": TEXT_OR_NULL,
                },
                "required": ["label", "amount"],
            },
        },
        "subtotal": MONEY,
        "total": MONEY,
        "count": {"type": "integer", "minimum": 0},
        "ready": {"type": "boolean", "description": "Whether it can go to checkout."},
    },
    "required": ["lines", "adjustments", "subtotal", "total", "count", "ready"],
}


def _operation(summary: str, body: dict | None = None) -> dict:
    operation = {
        "tags": ["cart"],
        "summary": summary,
        "responses": {
            "200": {
                "description": "The cart, priced.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Cart"}}},
            }
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


def fragment() -> dict:
    line = LineSchema()
    quantity = LineSchema()
    del quantity["sku"]  # the path names the SKU
    return {
        "components": {"schemas": {"Cart": CART}},
        "paths": {
            "/api/cart": {
                "get": _operation("The shopper's cart"),
                "delete": _operation("Empty the cart"),
            },
            "/api/cart/lines": {
                "post": _operation("Add units of a SKU (1 without a quantity)", line),
            },
            "/api/cart/lines/{sku}": {
                "put": _operation("Set the quantity of a line", quantity),
                "patch": _operation("Set the quantity of a line", quantity),
                "delete": _operation("Remove a line"),
            },
        },
    }
