"""A stand-in for the cart: adds a button to the product page through the
``product_actions`` slot, with a CSRF token (so the page now carries a session)."""

from markupsafe import Markup, escape
from pyramid.csrf import get_csrf_token

from mercato import hookimpl


@hookimpl
def mercato_render_slot(request, name, context):
    if name != "product_actions":
        return None
    variant = context["variant"]
    assert context["sku"] == variant["sku"]
    return Markup(
        '<form method="post" action="/cart">'
        f'<input type="hidden" name="csrf_token" value="{escape(get_csrf_token(request))}">'
        f'<input type="hidden" name="sku" value="{escape(variant["sku"])}">'
        f'<button type="submit" data-product="{escape(context["product"]["slug"])}"'
        f"{'' if variant['available'] else ' disabled'}>Add to cart</button></form>"
    )
