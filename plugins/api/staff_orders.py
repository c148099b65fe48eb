"""Staff order operations an integration needs besides those of ``views``: the orders
list with filters (``GET /api/staff/orders``) and taking the authorized money
(``POST /api/staff/orders/{number}/capture``, for shops that capture on fulfilment).

The filters are read with ``OrderFilters``, the colander schema the OpenAPI document
shows as the query parameters (``openapi``): ``status``, ``q`` (part of the number or
the email), ``created_from`` and ``created_to`` (days, UTC, both included),
``customer`` (an account id), ``page`` and ``per_page``. Newest first.
"""

from datetime import UTC, datetime, time, timedelta

import colander
from pyramid.view import view_config
from sqlalchemy import func, or_, select

from mercato import ORDER_STATUSES, Order, actor_of, capture_order

from .views import _body, _staff_call, _staff_order, error_json

MANAGE = "orders.manage"


class OrderFilters(colander.MappingSchema):
    status = colander.SchemaNode(
        colander.String(),
        missing="",
        validator=colander.OneOf(ORDER_STATUSES),
        description="Only orders in this state.",
    )
    q = colander.SchemaNode(
        colander.String(),
        missing="",
        validator=colander.Length(max=254),
        description="Part of the order's number or of the customer's email.",
    )
    created_from = colander.SchemaNode(
        colander.Date(), missing=None, description="Placed on this day (UTC) or later."
    )
    created_to = colander.SchemaNode(
        colander.Date(), missing=None, description="Placed on this day (UTC) or earlier."
    )
    customer = colander.SchemaNode(
        colander.Int(),
        missing=None,
        validator=colander.Range(min=1, max=2**31 - 1),
        description="The customer's account id.",
    )
    page = colander.SchemaNode(
        colander.Int(), missing=1, validator=colander.Range(min=1, max=100_000)
    )
    per_page = colander.SchemaNode(
        colander.Int(), missing=20, validator=colander.Range(min=1, max=100)
    )


def includeme(config):
    config.add_route("api_staff_orders", "/api/staff/orders")
    config.add_route("api_order_capture", "/api/staff/orders/{number}/capture")
    config.scan(__name__)


def summary_json(order: Order) -> dict:
    """What a list shows of an order; ``GET /api/staff/orders/{number}`` has the rest."""
    return {
        "number": order.number,
        "status": order.status,
        "email": order.email,
        "customer_id": order.customer_id,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "total": order.total.to_json(),
        "captured": order.captured.to_json(),
        "refunded": order.refunded.to_json(),
    }


def _matching(filters: dict):
    query = select(Order)
    if filters["q"]:
        like = "%" + filters["q"].replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        like += "%"
        query = query.where(or_(Order.number.ilike(like), Order.email.ilike(like)))
    if filters["status"]:
        query = query.where(Order.status == filters["status"])
    if filters["created_from"]:
        query = query.where(Order.created_at >= _midnight(filters["created_from"]))
    if filters["created_to"]:
        query = query.where(Order.created_at < _midnight(filters["created_to"], days=1))
    if filters["customer"]:
        query = query.where(Order.customer_id == filters["customer"])
    return query


def _midnight(day, days: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=days), time(), tzinfo=UTC)


@view_config(
    route_name="api_staff_orders", request_method="GET", renderer="json", permission=MANAGE
)
def api_staff_orders(request):
    request.response.cache_control.no_store = True
    given = {key: value for key, value in request.GET.items() if value != ""}
    try:
        filters = OrderFilters().deserialize(given)
    except colander.Invalid as exc:
        request.response.status_int = 400
        message = "Some filters need your attention."
        return {"error": {"status": 400, "message": message, "fields": exc.asdict()}}
    start, end = filters["created_from"], filters["created_to"]
    if start and end and start > end:
        return error_json(request, 400, "created_to is before created_from.", "created_to")
    query = _matching(filters)
    total = request.dbsession.scalar(select(func.count()).select_from(query.subquery()))
    per_page, page = filters["per_page"], filters["page"]
    orders = request.dbsession.scalars(
        query.order_by(Order.created_at.desc(), Order.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return {
        "orders": [summary_json(order) for order in orders],
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": -(-total // per_page),
    }


@view_config(
    route_name="api_order_capture", request_method="POST", renderer="json", permission=MANAGE
)
def api_capture(request):
    """Take what the authorized order owes (less than authorized when units were taken
    off since); 409 when there is nothing to capture."""
    order = _staff_order(request)
    reason = str(_body(request).get("reason", ""))[:500] or "captured by staff"

    def run():
        capture_order(
            request.registry, request.dbsession, order, actor=actor_of(request), reason=reason
        )
        return order

    return _staff_call(request, run)
