"""The cart page with its forms (CSRF-protected POSTs), and the JSON API under /api/cart.

Every refusal is a ``CartError`` turned into a 4xx by one exception view: the cart page
with the message on top for forms (the cart stays usable), JSON for the API.
"""

import colander
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.interfaces import IRoutesMapper
from pyramid.renderers import render_to_response
from pyramid.view import exception_view_config, view_config

from mercato import error_response, wants_json

from .schemas import first_message, validate_line, validate_sku
from .services import CartError

JSON_EXAMPLE = 'Send a JSON object, like {"sku": "MUG-BLUE", "quantity": 1}.'


def includeme(config):
    config.add_route("cart", "/cart")
    config.add_route("cart_add", "/cart/add")
    config.add_route("cart_update", "/cart/update")
    config.add_route("cart_remove", "/cart/remove")
    config.add_route("cart_clear", "/cart/clear")
    config.add_route("api_cart", "/api/cart")
    config.add_route("api_cart_lines", "/api/cart/lines")
    # SKUs may hold slashes; the rest of the path is the SKU.
    config.add_route("api_cart_line", "/api/cart/lines/{sku:.+}")
    config.scan(__name__)


def _line(request, data, *, min_quantity: int, default_quantity=None) -> tuple[str, int]:
    try:
        return validate_line(
            data,
            min_quantity=min_quantity,
            max_per_line=request.cart.max_per_line,
            default_quantity=default_quantity,
        )
    except colander.Invalid as exc:
        raise CartError(first_message(exc), 400) from None


def _json_body(request) -> dict:
    try:
        body = request.json_body
    except ValueError:
        raise CartError(JSON_EXAMPLE, 400) from None
    if not isinstance(body, dict):
        raise CartError(JSON_EXAMPLE, 400)
    return body


def _page_values(request, error: str | None = None) -> dict:
    request.response.cache_control.no_store = True
    mapper = request.registry.queryUtility(IRoutesMapper)
    has_checkout = mapper is not None and mapper.get_route("checkout") is not None
    return {
        "cart": request.cart.view(),
        "error": error,
        "max_per_line": request.cart.max_per_line,
        "checkout_url": request.route_path("checkout") if has_checkout else None,
    }


def _api_cart(request) -> dict:
    request.response.cache_control.no_store = True
    return request.cart.view().to_json()


@exception_view_config(CartError)
def cart_error(exc, request):
    if wants_json(request):
        return error_response(request, exc.status, exc.message)
    response = render_to_response(
        "cart/cart.jinja2", _page_values(request, exc.message), request=request
    )
    response.status_int = exc.status
    response.cache_control.no_store = True
    return response


# -- storefront ---------------------------------------------------------------------


@view_config(route_name="cart", request_method="GET", renderer="cart/cart.jinja2")
def cart_page(request):
    return _page_values(request)


@view_config(route_name="cart_add", request_method="POST")
def cart_add(request):
    sku, quantity = _line(request, request.POST, min_quantity=1, default_quantity=1)
    request.cart.add(sku, quantity)
    request.session.flash(f"Added {quantity} × {request.cart.name_of(sku)} to your cart.")
    return HTTPSeeOther(location=request.route_path("cart"))


@view_config(route_name="cart_update", request_method="POST")
def cart_update(request):
    sku, quantity = _line(request, request.POST, min_quantity=0)
    request.cart.set_quantity(sku, quantity)
    name = request.cart.name_of(sku)
    request.session.flash(
        f"{name}: quantity set to {quantity}." if quantity else f"Removed {name} from your cart."
    )
    return HTTPSeeOther(location=request.route_path("cart"))


@view_config(route_name="cart_remove", request_method="POST")
def cart_remove(request):
    try:
        sku = validate_sku(request.POST.get("sku", colander.null))
    except colander.Invalid as exc:
        raise CartError(exc.msg, 400) from None
    request.cart.remove(sku)
    request.session.flash(f"Removed {request.cart.name_of(sku)} from your cart.")
    return HTTPSeeOther(location=request.route_path("cart"))


@view_config(route_name="cart_clear", request_method="POST")
def cart_clear(request):
    request.cart.clear()
    request.session.flash("Your cart is now empty.")
    return HTTPSeeOther(location=request.route_path("cart"))


# -- JSON API -----------------------------------------------------------------------


@view_config(route_name="api_cart", request_method="GET", renderer="json")
def api_cart(request):
    return _api_cart(request)


@view_config(route_name="api_cart", request_method="DELETE", renderer="json")
def api_cart_clear(request):
    request.cart.clear()
    return _api_cart(request)


@view_config(route_name="api_cart_lines", request_method="POST", renderer="json")
def api_cart_add(request):
    sku, quantity = _line(request, _json_body(request), min_quantity=1, default_quantity=1)
    request.cart.add(sku, quantity)
    return _api_cart(request)


@view_config(route_name="api_cart_line", request_method=("PUT", "PATCH"), renderer="json")
def api_cart_set(request):
    data = {**_json_body(request), "sku": request.matchdict["sku"]}
    sku, quantity = _line(request, data, min_quantity=0)
    request.cart.set_quantity(sku, quantity)
    return _api_cart(request)


@view_config(route_name="api_cart_line", request_method="DELETE", renderer="json")
def api_cart_remove(request):
    request.cart.remove(request.matchdict["sku"])
    return _api_cart(request)
