"""The api plugin's part of the OpenAPI document: checkout, the shopper's orders, the
staff operations on an order, and the kernel's CSRF token route (``shapes`` makes the
JSON these schemas describe)."""

from .schemas import sku_quantities
from .staff_orders import OrderFilters

MONEY = {"$ref": "#/components/schemas/Money"}
MONEY_OR_NULL = {"oneOf": [MONEY, {"type": "null"}]}
TEXT_OR_NULL = {"type": ["string", "null"]}
WHEN = {"type": ["string", "null"], "format": "date-time"}
IDEMPOTENCY_KEY = {"$ref": "#/components/parameters/IdempotencyKey"}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str] | None = None, **properties) -> dict:
    """A JSON object with these properties, all required unless ``required`` says."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def json_body(schema: dict, description: str = "", required: bool = True) -> dict:
    body = {"required": required, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


def answer(schema: dict, description: str = "Done.") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ADDRESS = {
    "type": "object",
    "description": "A postal address; ``region`` is the state or province code, needed "
    "where the country has them (US, CA …).",
    "properties": {
        "name": {"type": "string", "maxLength": 100},
        "line1": {"type": "string", "maxLength": 200},
        "line2": {"type": "string", "maxLength": 200},
        "postal_code": {"type": "string", "maxLength": 20},
        "city": {"type": "string", "maxLength": 100},
        "country": {"type": "string", "description": "ISO 3166-1 alpha-2, such as FR."},
        "region": {"type": "string", "maxLength": 3},
        "phone": {"type": "string", "maxLength": 30},
    },
    "required": ["name", "line1", "postal_code", "city", "country"],
}
ADJUSTMENT = obj(["label", "amount"], label={"type": "string"}, amount=MONEY, code=TEXT_OR_NULL)
TAX_LINE = obj(
    name={"type": "string"},
    rate={"type": "string", "description": 'A decimal fraction: "0.19".'},
    amount=MONEY,
    included={"type": "boolean"},
    target={"type": "string"},
)
SUMMARY_ROW = obj(
    ["kind", "label", "amount", "included"],
    kind={"type": "string"},
    label={"type": "string"},
    amount=MONEY,
    included={"type": "boolean"},
    rate={"type": "string"},
)
SHIPPING_OPTION = obj(
    code={"type": "string"},
    name={"type": "string"},
    price={**MONEY, "description": "Before tax."},
    estimate={"type": "string"},
)
LINE = obj(
    sku={"type": "string"},
    name={"type": "string"},
    quantity={"type": "integer"},
    unit_price=MONEY,
    total=MONEY,
)
REVIEW = {
    "lines": array(ref("CheckoutLine")),
    "adjustments": array(ref("Adjustment")),
    "subtotal": MONEY,
    "shipping_required": {"type": "boolean"},
    "shipping_options": array(ref("ShippingOption")),
    "shipping": {"oneOf": [ref("ShippingOption"), {"type": "null"}]},
    "taxes": array(ref("TaxLine")),
    "summary": array(ref("SummaryRow")),
    "total": MONEY,
    "problems": array({"type": "string"}),
}
REFUND = obj(
    ["id", "amount", "created_at"],
    id={"type": "integer"},
    amount=MONEY,
    created_at=WHEN,
    status={"type": "string", "description": "Staff only."},
    reason={"type": "string", "description": "Staff only."},
    actor=TEXT_OR_NULL,
)
ORDER_LINE = {
    **LINE,
    "properties": {
        **LINE["properties"],
        **{
            name: {"type": "integer", "minimum": 0}
            for name in (
                "quantity_shipped",
                "quantity_cancelled",
                "quantity_refunded",
                "quantity_restocked",
                "quantity_to_ship",
            )
        },
    },
}
ORDER = obj(
    number={"type": "string"},
    status={"type": "string"},
    email={"type": "string"},
    created_at=WHEN,
    lines=array(ORDER_LINE),
    adjustments=array(ref("Adjustment")),
    subtotal=MONEY,
    shipping={
        "oneOf": [
            obj(method={"type": "string"}, name=TEXT_OR_NULL, price=MONEY, tax=MONEY),
            {"type": "null"},
        ]
    },
    shipping_refunded={"type": "boolean"},
    tax_lines=array(ref("TaxLine")),
    tax_amount=MONEY,
    vat_number=TEXT_OR_NULL,
    summary=array(ref("SummaryRow")),
    total=MONEY,
    captured=MONEY,
    refunded=MONEY,
    refunds=array(ref("Refund")),
    shipping_address={"type": ["object", "null"]},
    billing_address={"type": ["object", "null"]},
    payment_method=TEXT_OR_NULL,
    history=array(
        obj(**{"from": TEXT_OR_NULL, "to": {"type": "string"}, "at": WHEN, "reason": TEXT_OR_NULL})
    ),
    url={"type": "string"},
)
ORDER_ANSWER = obj(order=ref("Order"))
REFUND_MADE = {
    **REFUND,
    "properties": {
        **REFUND["properties"],
        "lines": array(ref("SkuQuantity")),
        "shipping": {"type": "boolean"},
    },
}
CHECKOUT_STATE = {
    "checkout_id": {"type": "string"},
    "email": TEXT_OR_NULL,
    "vat_number": {"type": "string"},
}
REASON = {"type": "string", "maxLength": 500}


def _staff_operation(summary: str, description: str, body: dict | None, ok: dict) -> dict:
    operation = {
        "tags": ["staff: orders"],
        "summary": summary,
        "description": description,
        "responses": {"200": ok},
    }
    if body is not None:
        operation["requestBody"] = json_body(body, required=False)
    return operation


ORDER_SUMMARY = obj(
    number={"type": "string"},
    status={"type": "string"},
    email={"type": "string"},
    customer_id={"type": ["integer", "null"]},
    created_at=WHEN,
    total=MONEY,
    captured=MONEY,
    refunded=MONEY,
)


def query_parameters(schema) -> list[dict]:
    """A colander mapping's fields as optional query parameters (converted to JSON
    Schema with the rest of the document)."""
    return [{"name": node.name, "in": "query", "schema": node} for node in schema.children]


def fragment() -> dict:
    staff_order = answer(ORDER_ANSWER, "The order as staff see it.")
    return {
        "components": {
            "schemas": {
                "Address": ADDRESS,
                "Adjustment": ADJUSTMENT,
                "TaxLine": TAX_LINE,
                "SummaryRow": SUMMARY_ROW,
                "ShippingOption": SHIPPING_OPTION,
                "CheckoutLine": LINE,
                "Refund": REFUND,
                "Order": ORDER,
            }
        },
        "paths": {
            "/api/openapi.json": {
                "get": {
                    "tags": ["reference"],
                    "summary": "This document",
                    "responses": {"200": answer({"type": "object"}, "OpenAPI 3.1.")},
                }
            },
            "/api/docs": {
                "get": {
                    "tags": ["reference"],
                    "summary": "This document as a page to read and try (Swagger UI)",
                    "responses": {
                        "200": {
                            "description": "An HTML page.",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/api/session/csrf": {
                "get": {
                    "tags": ["session"],
                    "summary": "The session's CSRF token",
                    "description": "Starts a session when there is none: send its cookie "
                    "and this token (``X-CSRF-Token``) with every unsafe request.",
                    "responses": {"200": answer(obj(csrf_token={"type": "string"}))},
                }
            },
            "/api/checkout": {
                "get": {
                    "tags": ["checkout"],
                    "summary": "The checkout: addresses, the priced cart, payment methods",
                    "responses": {
                        "200": answer(
                            obj(
                                **CHECKOUT_STATE,
                                shipping_address={"type": ["object", "null"]},
                                billing_address={"type": ["object", "null"]},
                                shipping_method=TEXT_OR_NULL,
                                **REVIEW,
                                payment_methods=array(
                                    obj(
                                        code={"type": "string"},
                                        label={"type": "string"},
                                        provider={"type": "string"},
                                    )
                                ),
                            )
                        )
                    },
                }
            },
            "/api/checkout/address": {
                method: {
                    "tags": ["checkout"],
                    "summary": "Set the email and addresses",
                    "description": "The totals follow the new destination; a shipping "
                    "method chosen before stays only if the new address offers it.",
                    "requestBody": json_body(
                        obj(
                            ["email", "shipping_address"],
                            email={"type": "string", "format": "email", "maxLength": 254},
                            shipping_address=ref("Address"),
                            billing_address={"oneOf": [ref("Address"), {"type": "null"}]},
                            vat_number={"type": "string", "description": "DE123456789"},
                        )
                    ),
                    "responses": {"200": answer(obj(**CHECKOUT_STATE))},
                }
                for method in ("put", "post")
            },
            "/api/checkout/shipping": {
                "get": {
                    "tags": ["checkout"],
                    "summary": "The shipping methods offered for the checkout's address",
                    "responses": {
                        "200": answer(
                            obj(
                                shipping_required=REVIEW["shipping_required"],
                                shipping_options=REVIEW["shipping_options"],
                                shipping=REVIEW["shipping"],
                            )
                        )
                    },
                },
                **{
                    method: {
                        "tags": ["checkout"],
                        "summary": "Choose a shipping method",
                        "requestBody": json_body(obj(code={"type": "string", "minLength": 1})),
                        "responses": {
                            "200": answer(
                                obj(
                                    checkout_id={"type": "string"},
                                    shipping_method={"type": "string"},
                                    **REVIEW,
                                ),
                                "The cart priced with that method.",
                            )
                        },
                    }
                    for method in ("put", "post")
                },
            },
            "/api/checkout/orders": {
                "post": {
                    "tags": ["checkout"],
                    "summary": "Place the order and pay",
                    "description": "``method`` is one of the checkout's payment methods, "
                    "``details`` what its provider needs (Stripe: ``payment_method``). "
                    "``expected_total`` (minor units) refuses the order if the total "
                    "changed meanwhile. A 202 carries the ``action`` the shopper must "
                    "finish (3-D Secure): once done, GET the order's ``url``.",
                    "requestBody": json_body(
                        obj(
                            ["method"],
                            method={"type": "string"},
                            details={"type": "object"},
                            expected_total={"type": "integer"},
                        )
                    ),
                    "responses": {
                        "200": answer(ORDER_ANSWER, "Placed already (the same checkout)."),
                        "201": answer(ORDER_ANSWER, "Placed and paid (or authorized)."),
                        "202": answer(
                            obj(
                                order=ref("Order"),
                                action=obj(
                                    ["method"],
                                    method={"type": "string"},
                                    client_secret={"type": "string"},
                                ),
                            ),
                            "Placed; the payment needs the shopper (3-D Secure).",
                        ),
                    },
                }
            },
            "/api/orders/{token}": {
                "get": {
                    "tags": ["orders"],
                    "summary": "An order by its secret link",
                    "responses": {"200": answer(ORDER_ANSWER)},
                }
            },
            "/api/account/orders": {
                "get": {
                    "tags": ["account"],
                    "summary": "The logged-in customer's orders, newest first",
                    "security": [{"sessionCookie": []}],
                    "responses": {"200": answer(obj(orders=array(ref("Order"))))},
                }
            },
            "/api/staff/orders": {
                "get": {
                    "tags": ["staff: orders"],
                    "summary": "Orders, newest first, with filters",
                    "parameters": query_parameters(OrderFilters()),
                    "responses": {
                        "200": answer(
                            obj(
                                orders=array(ORDER_SUMMARY),
                                total={"type": "integer", "minimum": 0},
                                page={"type": "integer", "minimum": 1},
                                per_page={"type": "integer", "minimum": 1},
                                pages={"type": "integer", "minimum": 0},
                            )
                        )
                    },
                }
            },
            "/api/staff/orders/{number}/capture": {
                "post": _staff_operation(
                    "Capture an authorized order",
                    "Takes what the order owes now (less than authorized when units were "
                    "taken off since); an authorization with nothing left to take is "
                    "released. 409 when there is nothing to capture.",
                    obj([], reason=REASON),
                    staff_order,
                )
            },
            "/api/staff/orders/{number}": {
                "get": _staff_operation(
                    "An order as staff see it",
                    "Per line what shipped, was cancelled, refunded and put back in stock; "
                    "every refund with its status and reason.",
                    None,
                    staff_order,
                )
            },
            "/api/staff/orders/{number}/refunds": {
                "post": {
                    **_staff_operation(
                        "Refund part or all of a paid order",
                        'By parts: ``{"lines": [{"sku", "quantity"}], "shipping": true}`` '
                        "refunds what the customer paid for them, tax included (an "
                        '``amount`` may lower it, with a ``reason``). By amount: ``{"amount": '
                        '"24.00", "reason"}``. ``restock``: true, false or a list of '
                        '``{"sku", "quantity"}``.',
                        obj(
                            [],
                            lines=sku_quantities("to refund", "Refund"),
                            shipping={"type": "boolean"},
                            amount={"type": "string", "description": '"12.50"'},
                            reason=REASON,
                            restock={
                                "oneOf": [
                                    {"type": "boolean"},
                                    array(ref("SkuQuantity")),
                                ]
                            },
                        ),
                        answer(obj(order=ref("Order"), refund=REFUND_MADE)),
                    ),
                    "parameters": [IDEMPOTENCY_KEY],
                }
            },
            "/api/staff/orders/{number}/fulfilment": {
                "post": _staff_operation(
                    "Mark the whole order fulfilled",
                    "Ships every unit left (use the fulfilment plugin's shipments for "
                    "parcels with tracking).",
                    None,
                    staff_order,
                )
            },
            "/api/staff/orders/{number}/cancellation": {
                "post": _staff_operation(
                    "Cancel an order that is not paid yet",
                    "The authorization is voided and the stock given back.",
                    obj([], reason=REASON),
                    staff_order,
                )
            },
            "/api/staff/orders/{number}/cancellations": {
                "post": {
                    **_staff_operation(
                        "Cancel units of a paid order before they ship",
                        "They go back in stock and what the customer paid for them is "
                        "refunded, tax included (the shipping too, once nothing is left).",
                        obj(
                            ["lines"],
                            lines=sku_quantities("to cancel", "Cancel"),
                            reason=REASON,
                        ),
                        answer(
                            obj(
                                order=ref("Order"),
                                cancelled=array(ref("SkuQuantity")),
                                refund=ref("Refund"),
                            )
                        ),
                    ),
                    "parameters": [IDEMPOTENCY_KEY],
                }
            },
        },
    }
