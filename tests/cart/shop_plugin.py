"""What the cart's tests need from the rest of a shop, built as small as possible:

* ``POST /test/login/{id}``: makes the session's user that id and runs
  ``mercato_user_logged_in``, as the accounts' login does;
* ``GET /test/product/{sku}``: a product page rendering the ``product_actions`` slot;
* ``POST /test/checkout``: reads ``mercato_cart_lines`` and, after the commit, calls
  ``mercato_cart_checked_out``, as the kernel's checkout does;
* a ``cart_after_lines`` contribution, standing in for a discount-code field.
"""

from dataclasses import dataclass

from markupsafe import Markup
from pyramid.view import view_config

from mercato import hookimpl


@dataclass
class User:
    id: int
    email: str


@dataclass
class Order:
    """What the cart reads of the kernel's order: whose cart became it."""

    lines: list
    customer_id: int | None


@dataclass
class Variant:
    sku: str


def _user(request):
    user_id = request.session.get("test.user_id")
    return None if user_id is None else User(user_id, f"customer{user_id}@example.com")


@view_config(route_name="test_login", request_method="POST", renderer="json")
def login(request):
    user_id = int(request.matchdict["id"])
    request.session["test.user_id"] = user_id
    user = User(user_id, f"customer{user_id}@example.com")
    request.hooks.mercato_user_logged_in(request=request, user=user)
    return {"user": user_id}


@view_config(route_name="test_product", renderer="test_product.jinja2")
def product(request):
    return {"variant": Variant(request.matchdict["sku"])}


@view_config(route_name="test_checkout", request_method="POST", renderer="json")
def checkout(request):
    lines = request.hooks.mercato_cart_lines(request=request)
    order = Order(
        lines=[(line.sku, line.quantity) for line in lines],
        customer_id=getattr(request.user, "id", None),
    )

    def after_commit(committed):
        if committed:
            request.hooks.mercato_cart_checked_out(request=request, order=order)

    request.tm.get().addAfterCommitHook(after_commit)
    return {"lines": order.lines}


@hookimpl
def mercato_configure(config):
    config.add_request_method(_user, "user", reify=True)
    config.add_route("test_login", "/test/login/{id}")
    config.add_route("test_product", "/test/product/{sku}")
    config.add_route("test_checkout", "/test/checkout")
    config.add_jinja2_search_path("tests.cart:templates", name=".jinja2")
    config.scan(__name__)


@hookimpl
def mercato_render_slot(request, name, context):
    if name == "cart_after_lines":
        return Markup('<p class="test-after-lines">{} items above</p>').format(
            context["cart"].count
        )
    return None
