"""The returns JSON API.

- ``GET /api/orders/{token}/returns``: the order's returns, what can still be returned
  and until when; ``POST`` the same URL to ask,
  ``{"lines": [{"sku": "TEE", "quantity": 1}], "reason": "Too small", "details": "…"}``
  (``reason`` one of the shop's reasons; an ``Idempotency-Key`` header makes a retry
  find the return it made). 201 with the return; 200 for a repeat.
- ``GET /api/staff/orders/{number}/returns`` (``orders.manage``): the order's returns.
- ``POST /api/staff/orders/{number}/returns/{id}/approve`` ``{"message": …}``,
  ``…/refuse`` ``{"message": …}`` (required), ``…/receive``
  ``{"lines": [{"sku", "received", "restock"}]}`` (restock 0 for damaged goods),
  ``…/refund`` ``{"amount"?: "12.50", "reason"?: …}`` (empty: what was charged for the
  units received; less needs a reason). A step taken already answers 200, unchanged.

Errors are ``{"error": {"status", "message", "field"?}}`` with a 4xx: the request's
transaction is aborted and nothing is kept.
"""

import re

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config

from mercato import Order, can_view_order, order_by_number, order_by_token

from . import services
from .actions import StaffInput, atomically, perform
from .models import RECEIVED, REFUNDED, ReturnRequest
from .schemas import BadInput, json_units, read_request

KEY = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, as Stripe's idempotency keys


def error_json(request, status: int, message: str, field: str = "") -> dict:
    request.response.status_int = status
    error = {"status": status, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def _body(request) -> dict:
    try:
        body = request.json_body
    except ValueError:
        raise BadInput("Send a JSON object.") from None
    if not isinstance(body, dict):
        raise BadInput("Send a JSON object.")
    return body


def return_json(order: Order, ret: ReturnRequest) -> dict:
    return {
        "id": ret.id,
        "order": order.number,
        "status": ret.status,
        "status_text": services.STATUS_WORDS[ret.status],
        "reason": ret.reason,
        "details": ret.details,
        "message": ret.staff_message,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "received": line.quantity_received if ret.status in (RECEIVED, REFUNDED) else None,
                "restocked": line.quantity_restocked
                if ret.status in (RECEIVED, REFUNDED)
                else None,
            }
            for line in ret.lines
        ],
        "refunded": order.money(ret.amount_refunded).to_json() if ret.amount_refunded else None,
        "created_at": ret.created_at.isoformat() if ret.created_at else None,
        "history": [
            {
                "status": event.status,
                "at": event.created_at.isoformat() if event.created_at else None,
            }
            for event in ret.events
        ],
    }


def _listing(request, order: Order) -> dict:
    returns = services.returns_of(request.dbsession, order)
    days = services.settings_of(request)["window_days"]
    end = services.window_end(order, days)
    names = services.names_of(order)
    return {
        "returns": [return_json(order, ret) for ret in returns],
        "returnable": [
            {"sku": sku, "name": names[sku], "quantity": n}
            for sku, n in services.returnable(order, returns).items()
            if n
        ],
        "window_ends": end.isoformat() if end else None,
        "problem": services.why_not_returnable(order, returns, days),
    }


# ---------------------------------------------------------------------------
# The customer (by the order's secret link)
# ---------------------------------------------------------------------------


def _customer_order(request) -> Order:
    token = request.matchdict["token"]
    order = order_by_token(request.dbsession, token)
    if order is None or not can_view_order(request, order, token):
        raise HTTPNotFound()
    request.response.cache_control.no_store = True
    return order


@view_config(route_name="returns_api_customer", request_method="GET", renderer="json")
def api_customer_returns(request):
    return _listing(request, _customer_order(request))


@view_config(route_name="returns_api_customer", request_method="POST", renderer="json")
def api_customer_request(request):
    order = _customer_order(request)
    try:
        key = request.headers.get("Idempotency-Key", "")
        if key and not KEY.match(key):
            raise BadInput("The Idempotency-Key header is 1 to 64 printable characters.")
        body = _body(request)
        asked = read_request(
            json_units(body),
            body.get("reason"),
            body.get("details"),
            services.settings_of(request)["reasons"],
        )
        ret, new = atomically(
            request,
            lambda: services.request_return(
                request, order, asked["units"], asked["reason"], asked["details"], key
            ),
        )
    except (BadInput, services.ReturnError) as exc:
        return error_json(request, getattr(exc, "status", 400), exc.message, exc.field)
    request.response.status_int = 201 if new else 200
    return {"return": return_json(order, ret)}


# ---------------------------------------------------------------------------
# Staff
# ---------------------------------------------------------------------------


def _staff_order(request) -> Order:
    order = order_by_number(request.dbsession, request.matchdict["number"])
    if order is None:
        raise HTTPNotFound()
    return order


@view_config(
    route_name="returns_api_staff",
    request_method="GET",
    renderer="json",
    permission="orders.manage",
)
def api_staff_returns(request):
    return _listing(request, _staff_order(request))


def _staff_input(body: dict) -> StaffInput:
    lines = body.get("lines", [])
    return StaffInput(
        message=body.get("message"),
        amount=body.get("amount"),
        reason=body.get("reason"),
        received=json_units(body, field="received") if lines else {},
        restock=json_units(body, field="restock") if lines else {},
    )


@view_config(
    route_name="returns_api_staff_action",
    request_method="POST",
    renderer="json",
    permission="orders.manage",
)
def api_staff_action(request):
    order = _staff_order(request)
    return_id, action = int(request.matchdict["id"]), request.matchdict["action"]
    try:
        given = _staff_input(_body(request))
        ret, _ = atomically(request, lambda: perform(request, order, return_id, action, given))
    except (BadInput, services.ReturnError) as exc:
        return error_json(request, getattr(exc, "status", 400), exc.message, exc.field)
    return {"return": return_json(order, ret)}
