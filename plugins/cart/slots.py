"""What the cart adds to other pages: the mini-cart and the add-to-cart form."""

import logging

from markupsafe import Markup
from pyramid.renderers import render

log = logging.getLogger(__name__)


def mini_cart(request) -> Markup:
    """``header_tools``: a link to the cart with how many items it holds."""
    url = request.route_path("cart")
    try:
        count = request.cart.count
    except Exception:
        # A header must never take the page down with it.
        log.exception("mini-cart could not read the cart")
        return Markup('<a class="mini-cart" href="{}">Cart</a>').format(url)
    label = f"Cart, {count} item{'' if count == 1 else 's'}"
    return Markup(
        '<a class="mini-cart" href="{}" aria-label="{}">Cart '
        '<span class="mini-cart-count">{}</span></a>'
    ).format(url, label, count)


def add_to_cart_form(request, context: dict) -> Markup | None:
    """``product_actions``: a form that adds the product's variant to the cart."""
    variant = context.get("variant")
    sku = getattr(variant, "sku", None) or context.get("sku")
    if not sku:
        return None
    # The page's own stock figure for the variant, when it gives one (as fresh as the
    # page: the catalog's cached pages are invalidated by every stock change); else ask.
    stock = variant.get("stock") if isinstance(variant, dict) else None
    if stock is None:
        stock = request.cart.stock_level(sku)
    values = {
        "sku": sku,
        "sold_out": stock is not None and stock <= 0,
        "max_quantity": request.cart.max_per_line,
    }
    # The template is autoescaped: its output is HTML built from escaped values.
    return Markup(render("cart/add_to_cart.jinja2", values, request=request))  # noqa: S704
