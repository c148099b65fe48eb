"""The cart page's shipping estimate (slot ``cart_after_lines``).

A GET form, so it works without JavaScript: ``/cart?ship_to=FR`` shows what the cart
costs to ship to France, and the country is kept in the session so the estimate is
still there after the shopper changes a quantity. Nothing is read from the database
until a country is chosen; then the kernel prices the cart for that destination
(``mercato.price_lines``), which costs this plugin its one query for the zones.
"""

from markupsafe import Markup
from pyramid.renderers import render

from mercato import (
    Destination,
    Line,
    PricingContext,
    countries,
    country_name,
    describe_skus,
    price_lines,
)

SESSION_KEY = "mercato.shipping.estimate"
PARAMETER = "ship_to"


def chosen_country(request) -> tuple[str | None, str | None]:
    """The country to estimate for: ``?ship_to=`` (then remembered in the session),
    else the one remembered; and what is wrong with what was asked, if anything."""
    if PARAMETER not in request.GET:
        remembered = request.session.get(SESSION_KEY)
        return (remembered if remembered in dict(countries()) else None), None
    asked = request.GET.get(PARAMETER, "").strip().upper()
    if not asked:
        request.session.pop(SESSION_KEY, None)
        return None, None
    if asked not in dict(countries()):
        return None, "Please choose a country from the list."
    if request.session.get(SESSION_KEY) != asked:
        request.session[SESSION_KEY] = asked
    return asked, None


def _cart_lines(request) -> list[Line]:
    """The cart as checkout reads it, with each SKU's weight (``mercato_sku_details``;
    the cart page has just described the same SKUs, so a catalog answers from memory)."""
    lines = request.hooks.mercato_cart_lines(request=request) or []
    details = describe_skus(request, [line.sku for line in lines])
    return [
        Line(
            sku=line.sku,
            quantity=line.quantity,
            weight=details[line.sku].weight if line.sku in details else 0,
            tax_class=details[line.sku].tax_class if line.sku in details else "standard",
        )
        for line in lines
    ]


def cart_estimate(request, context: dict) -> Markup | None:
    if not request.registry.settings["mercato.shipping"]["cart_estimate"]:
        return None
    cart = context.get("cart")
    if cart is None or not getattr(cart, "lines", None):
        return None
    country, problem = chosen_country(request)
    priced = None
    if country:
        priced = price_lines(
            request.hooks,
            _cart_lines(request),
            PricingContext(
                currency=request.registry.settings["mercato.currency"],
                dbsession=request.dbsession,
                customer=request.user,
                request=request,
                destination=Destination(country),
            ),
        )
    values = {
        "country": country,
        "country_name": country_name(country) if country else "",
        "problem": problem,
        # Nothing to ship when no line can be bought (the cart page says why).
        "priced": bool(priced and priced.lines),
        "options": priced.shipping_options if priced else [],
        # Tax the shop adds on top of its prices there (US sales tax): the options'
        # prices are before it, so the shopper is told.
        "tax_added": bool(priced and priced.added_tax()),
        "action": request.path,
    }
    # The template autoescapes every value: its output is HTML we can vouch for.
    return Markup(render("shipping/cart_estimate.jinja2", values, request=request))  # noqa: S704
