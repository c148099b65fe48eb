"""What the plugin adds to other plugins' order pages: the customer's "Returns" section
(slot ``order_details``: the confirmation page, the order's secret link, the customer's
order page) and the staff's "Returns" panel (slot ``admin_order``)."""

import secrets

from markupsafe import Markup
from pyramid.renderers import render

from mercato import UNSHIPPED_STATUSES, Order, order_by_number, order_by_token

from . import services
from .models import RECEIVED, REFUNDED


def order_in(request, context: dict) -> Order | None:
    """The order the page shows: ``order`` in the slot's context; else the one its URL
    names (pages calling ``slot("order_details")`` without arguments), which the page's
    view has already let this person see."""
    if context.get("order") is not None:
        return context["order"]
    matchdict = request.matchdict or {}
    if matchdict.get("token"):
        return order_by_token(request.dbsession, matchdict["token"])
    if matchdict.get("number"):
        return order_by_number(request.dbsession, matchdict["number"])
    return None


def form_action(request, order: Order) -> str:
    """Where the customer's form posts: by the order's secret link when the page was
    opened by it, else by its number from the customer's account."""
    if (request.matchdict or {}).get("token"):
        return request.route_path("returns_by_token", token=order.access_token)
    return request.route_path("returns_by_number", number=order.number)


def customer_values(request, order: Order, returns: list, *, values=None, errors=None) -> dict:
    """What ``returns/_customer.jinja2`` shows: the order's returns, and the form
    (its returnable items, the reasons) when the customer may ask now."""
    settings = services.settings_of(request)
    days = settings["window_days"]
    refused = services.why_not_returnable(order, returns, days)
    left = services.returnable(order, returns)
    names = services.names_of(order)
    items = [{"sku": sku, "name": names[sku], "left": n} for sku, n in left.items() if n]
    # Errors about a field the form shows go next to it; the others on top.
    shown = set()
    if not refused:
        shown = {"reason", "details", "lines", *(f"quantity.{item['sku']}" for item in items)}
    errors = errors or {}
    return {
        "order": order,
        "returns": returns,
        "words": services.STATUS_WORDS,
        "came_back": (RECEIVED, REFUNDED),
        "problem": refused,
        "until": services.window_end(order, days),
        "days": days,
        "items": items,
        "reasons": settings["reasons"],
        "action": form_action(request, order),
        # A nonce per form shown: a double submit of this form asks once.
        "nonce": secrets.token_urlsafe(16),
        "values": values or {},
        "errors": errors,
        "general_errors": [message for key, message in errors.items() if key not in shown],
    }


def customer_section(request, context: dict) -> Markup | None:
    order = order_in(request, context)
    # A return needs a shipment: an order not shipped (its confirmation page) has none.
    if order is None or order.status in UNSHIPPED_STATUSES:
        return None
    returns = services.returns_of(request.dbsession, order)
    # Nothing to say about an order that has not shipped and was never returned.
    if not returns and services.shipped_at(order) is None:
        return None
    values = customer_values(request, order, returns)
    # The template autoescapes every value: its output is HTML we can vouch for.
    return Markup(render("returns/_customer.jinja2", values, request=request))  # noqa: S704


def admin_panel(request, context: dict) -> Markup | None:
    order = order_in(request, context)
    if order is None or not request.has_permission("orders.manage"):
        return None
    returns = services.returns_of(request.dbsession, order)
    values = {
        "order": order,
        "returns": returns,
        "words": services.STAFF_WORDS,
        "event_words": services.EVENT_WORDS,
        "until": services.window_end(order, services.settings_of(request)["window_days"]),
        "shipped": services.shipped_at(order) is not None,
    }
    return Markup(render("returns/_admin_panel.jinja2", values, request=request))  # noqa: S704
