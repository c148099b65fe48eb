"""The returns plugin's part of the OpenAPI document (``mercato_openapi``): the
customer's returns by the order's link and the staff's steps (``api``)."""

from .schemas import MAX_DETAILS, MAX_MESSAGE

TEXT = {"type": "string"}
TEXT_OR_NULL = {"type": ["string", "null"]}
WHEN = {"type": ["string", "null"], "format": "date-time"}
COUNT_OR_NULL = {"type": ["integer", "null"]}
RETURN = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "order": TEXT,
        "status": TEXT,
        "status_text": TEXT,
        "reason": TEXT,
        "details": TEXT_OR_NULL,
        "message": TEXT_OR_NULL,
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": TEXT,
                    "name": TEXT_OR_NULL,
                    "quantity": {"type": "integer"},
                    "received": COUNT_OR_NULL,
                    "restocked": COUNT_OR_NULL,
                },
                "required": ["sku", "quantity", "received", "restocked"],
            },
        },
        "refunded": {"oneOf": [{"$ref": "#/components/schemas/Money"}, {"type": "null"}]},
        "created_at": WHEN,
        "history": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"status": TEXT, "at": WHEN},
                "required": ["status", "at"],
            },
        },
    },
    "required": ["id", "order", "status", "reason", "lines", "refunded", "history"],
}
LISTING = {
    "type": "object",
    "properties": {
        "returns": {"type": "array", "items": {"$ref": "#/components/schemas/Return"}},
        "returnable": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sku": TEXT, "name": TEXT_OR_NULL, "quantity": {"type": "integer"}},
                "required": ["sku", "quantity"],
            },
        },
        "window_ends": WHEN,
        "problem": TEXT_OR_NULL,
    },
    "required": ["returns", "returnable", "window_ends", "problem"],
}
STAFF_INPUT = {
    "type": "object",
    "description": "approve: ``message``; refuse: ``message`` (required); receive: "
    '``lines`` ``[{"sku", "received", "restock"}]`` (restock 0 for damaged goods); '
    "refund: ``amount`` (less than what was charged needs a ``reason``).",
    "properties": {
        "message": {"type": "string", "maxLength": MAX_MESSAGE},
        "amount": {"type": "string", "description": '"12.50"'},
        "reason": TEXT,
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": TEXT,
                    "received": {"type": "integer", "minimum": 0},
                    "restock": {"type": "integer", "minimum": 0},
                },
                "required": ["sku"],
            },
        },
    },
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def fragment() -> dict:
    one = {
        "type": "object",
        "properties": {"return": {"$ref": "#/components/schemas/Return"}},
        "required": ["return"],
    }
    return {
        "components": {"schemas": {"Return": RETURN, "Returns": LISTING}},
        "paths": {
            "/api/orders/{token}/returns": {
                "get": {
                    "tags": ["returns"],
                    "summary": "The order's returns, what can still go back and until when",
                    "responses": {"200": _json({"$ref": "#/components/schemas/Returns"}, "Yes.")},
                },
                "post": {
                    "tags": ["returns"],
                    "summary": "Ask to send items back",
                    "description": "``reason`` is one of the shop's reasons. The same "
                    "``Idempotency-Key`` again finds the return it made (200).",
                    "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "lines": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/SkuQuantity"},
                                        },
                                        "reason": TEXT,
                                        "details": {"type": "string", "maxLength": MAX_DETAILS},
                                    },
                                    "required": ["lines", "reason"],
                                }
                            }
                        },
                    },
                    "responses": {"200": _json(one, "Asked already."), "201": _json(one, "Asked.")},
                },
            },
            "/api/staff/orders/{number}/returns": {
                "get": {
                    "tags": ["staff: orders"],
                    "summary": "The order's returns",
                    "responses": {"200": _json({"$ref": "#/components/schemas/Returns"}, "Yes.")},
                }
            },
            "/api/staff/orders/{number}/returns/{id}/{action}": {
                "post": {
                    "tags": ["staff: orders"],
                    "summary": "Approve, refuse, receive or refund a return",
                    "description": "A step taken already answers 200, unchanged.",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 999999999},
                        },
                        {
                            "name": "action",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": ["approve", "refuse", "receive", "refund"]},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": STAFF_INPUT}},
                    },
                    "responses": {"200": _json(one, "The return after that step.")},
                }
            },
        },
    }
