"""Order changes before shipping in the JSON API, and the balance they may leave.

Staff (``orders.manage``):

``POST /api/staff/orders/{number}/changes`` with ``{"remove": [{"sku", "quantity"}]}``
or ``{"add": [{"sku", "quantity"}]}`` (one of the two) and an optional ``"reason"``
changes an authorized or paid order that has not shipped (``mercato.change_order_lines``
says what it does to the payment and the stock). An ``Idempotency-Key`` header makes a
retry answer with the first request's change. Answers ``{"order", "change": {"id",
"kind", "lines", "difference", "refund_id", "reason"}, "owed", "balance_due"}``; 400
for what the order or the shop lacks (a SKU, more units than are left to ship), 409 for
what the order's state or the stock refuses; nothing is changed then.

Customers (the order's secret link, a guest's too):

``POST /api/orders/{token}/balance-payments`` with ``{"method", "details"}`` (as the
checkout's ``/api/checkout/orders``) pays the balance a change left: 201 with
``{"payment": {"status", "amount"}, "balance_due"}``, or 202 with ``"action"`` (what the
browser needs for 3-D Secure) when the bank asks for it; 409 when nothing is left to
pay, 402 for a declined card.
"""

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config

from mercato import (
    BadChange,
    CheckoutError,
    OrderError,
    actor_of,
    amount_owed,
    balance_due,
    change_order_lines,
    order_by_token,
    pay_balance,
)

from . import idempotency
from .schemas import BadBody, quantities, sku_quantities
from .shapes import order_json
from .views import _body, _staff_order, error_json, json_error


def change_json(order, change) -> dict:
    return {
        "id": change.id,
        "kind": change.kind,
        "lines": [{"sku": sku, "quantity": n} for sku, n in change.lines.items()],
        "difference": order.money(change.amount).to_json(),
        "refund_id": change.refund_id,
        "reason": change.reason,
    }


@view_config(
    route_name="api_order_changes",
    request_method="POST",
    renderer="json",
    permission="orders.manage",
)
def api_change_order(request):
    order = _staff_order(request)
    body = _body(request)
    try:
        key = idempotency.request_key(request)
        remove = quantities(body.get("remove"), "remove", "to take off", "Take off")
        add = quantities(body.get("add"), "add", "to add", "Add")
        if bool(remove) == bool(add):
            raise BadBody(
                'Send the "remove" or the "add" lines: [{"sku": …, "quantity": …}].', "lines"
            )
    except BadBody as exc:
        return error_json(request, 400, exc.message, exc.field)
    try:
        change = change_order_lines(
            request,
            order,
            remove=remove,
            add=add,
            actor=actor_of(request),
            reason=str(body.get("reason", ""))[:500],
            request_key=key,
        )
    except BadChange as exc:
        return error_json(request, 400, str(exc), "remove" if remove else "add")
    except OrderError as exc:
        return error_json(request, 409, str(exc))
    return {
        "order": order_json(request, order, staff=True),
        "change": change_json(order, change),
        "owed": amount_owed(order).to_json(),
        "balance_due": balance_due(order).to_json(),
    }


@view_config(route_name="api_order_balance_payments", request_method="POST", renderer="json")
def api_pay_balance(request):
    order = order_by_token(request.dbsession, request.matchdict["token"])
    if order is None:
        raise HTTPNotFound()
    body = _body(request)
    if not isinstance(body.get("method"), str):
        return error_json(request, 400, 'Send {"method": "...", "details": {...}}.', "method")
    try:
        payment = pay_balance(request, order, body["method"], body.get("details") or {})
    except CheckoutError as exc:
        return json_error(request, exc)
    answer = {
        "payment": {"status": payment.status, "amount": payment.amount_money.to_json()},
        "balance_due": balance_due(order).to_json(),
    }
    if payment.status == "requires_action":
        request.response.status_int = 202
        answer["action"] = {"method": payment.method, **(payment.action or {})}
    else:
        request.response.status_int = 201
    return answer


def openapi_paths() -> dict:
    """This module's routes in the OpenAPI document (``mercato_openapi``)."""
    from .openapi import IDEMPOTENCY_KEY, MONEY, REASON, _staff_operation, answer, array, obj, ref

    change = obj(
        id={"type": "integer"},
        kind={"type": "string", "enum": ["lines_removed", "lines_cancelled", "lines_added"]},
        lines=array(ref("SkuQuantity")),
        difference=MONEY,
        refund_id={"type": ["integer", "null"]},
        reason={"type": "string"},
    )
    payment = obj(status={"type": "string"}, amount=MONEY)
    return {
        "/api/staff/orders/{number}/changes": {
            "post": {
                **_staff_operation(
                    "Take units off, or add units to, an order that has not shipped",
                    '``{"remove": [{"sku", "quantity"}]}`` or ``{"add": [...]}``, one of the '
                    "two. Taken off: back in stock; refunded on a paid order, released on an "
                    "authorized one (the capture takes what is owed). Added: priced and "
                    "reserved as at checkout; the difference is a balance the customer pays "
                    "through their order page before the order ships.",
                    obj(
                        [],
                        remove=sku_quantities("to take off", "Take off"),
                        add=sku_quantities("to add", "Add"),
                        reason=REASON,
                    ),
                    answer(obj(order=ref("Order"), change=change, owed=MONEY, balance_due=MONEY)),
                ),
                "parameters": [IDEMPOTENCY_KEY],
            }
        },
        "/api/orders/{token}/balance-payments": {
            "post": {
                "tags": ["orders"],
                "summary": "Pay the balance a change left on an order (its secret link)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": obj(
                                ["method"], method={"type": "string"}, details={"type": "object"}
                            )
                        }
                    },
                },
                "responses": {
                    "201": answer(obj(payment=payment, balance_due=MONEY), "Paid."),
                    "202": answer(
                        obj(
                            payment=payment,
                            balance_due=MONEY,
                            action=obj(
                                ["method"],
                                method={"type": "string"},
                                client_secret={"type": "string"},
                            ),
                        ),
                        "The payment needs the customer (3-D Secure).",
                    ),
                },
            }
        },
    }
