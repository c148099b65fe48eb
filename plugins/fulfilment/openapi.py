"""The fulfilment plugin's part of the OpenAPI document (``mercato_openapi``): an
order's shipments (``views.api_shipments``, ``views.api_ship``)."""

TEXT = {"type": "string"}
TEXT_OR_NULL = {"type": ["string", "null"]}
UNITS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"sku": TEXT, "name": TEXT_OR_NULL, "quantity": {"type": "integer"}},
        "required": ["sku", "quantity"],
    },
}
SHIPMENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "lines": UNITS,
        "carrier": TEXT_OR_NULL,
        "carrier_name": TEXT_OR_NULL,
        "tracking_number": TEXT_OR_NULL,
        "tracking_url": TEXT_OR_NULL,
        "actor": TEXT_OR_NULL,
        "created_at": {"type": ["string", "null"], "format": "date-time"},
    },
    "required": ["id", "lines", "carrier", "tracking_number", "tracking_url", "created_at"],
}
ORDER = {
    "type": "object",
    "properties": {"number": TEXT, "status": TEXT, "still_to_ship": UNITS},
    "required": ["number", "status", "still_to_ship"],
}


def _answer(description: str, properties: dict) -> dict:
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def fragment() -> dict:
    shipment = {"$ref": "#/components/schemas/Shipment"}
    order = {"$ref": "#/components/schemas/ShipmentOrder"}
    made = _answer("The parcel and what is left to ship.", {"shipment": shipment, "order": order})
    return {
        "components": {"schemas": {"Shipment": SHIPMENT, "ShipmentOrder": ORDER}},
        "paths": {
            "/api/staff/orders/{number}/shipments": {
                "get": {
                    "tags": ["staff: orders"],
                    "summary": "An order's shipments and what is left to ship",
                    "responses": {
                        "200": _answer(
                            "The shipments, oldest first.",
                            {"order": order, "shipments": {"type": "array", "items": shipment}},
                        )
                    },
                },
                "post": {
                    "tags": ["staff: orders"],
                    "summary": "Ship units of a paid order, with the carrier's tracking",
                    "description": "Without ``lines`` every unit left ships. The same "
                    "``Idempotency-Key`` again answers 200 with the parcel it recorded.",
                    "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "carrier": {**TEXT, "description": "A carrier code."},
                                        "tracking_number": TEXT,
                                        "lines": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/SkuQuantity"},
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"200": made, "201": made},
                },
            }
        },
    }
