"""A stand-in cart and checkout, so the promotions tests need no other plugin.

It keeps the contracts the real cart and checkout keep: prices come from
``mercato.price_lines`` with the request in the ``PricingContext``; the cart page renders
``{{ slot("cart_after_lines", cart=...) }}``; checkout saves an ORM order whose
``adjustments`` are dicts (label, amount, code, source) and calls
``mercato_order_placed(order)`` inside the request's transaction, then
``mercato_cart_checked_out`` after the commit. Enabled by the dotted name
``promotions_standin_shop.shop``. Its table is created by the tests that place orders.
"""

from pathlib import Path

from pyramid.view import view_config
from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mercato import CheckoutError, Line, Money, PricingContext, hookimpl, price_lines

PRICES = {"MUG": 1250, "POSTER": 3000, "PIN": 150}


class StandInBase(DeclarativeBase):
    """Not Mercato's metadata: this table is no part of any migration."""


class StandInOrder(StandInBase):
    __tablename__ = "promotions_standin_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(BigInteger)

    # As the kernel's orders keep them: [{"label", "amount", "code", "source"}].
    adjustments = ()


def basket(request) -> list[Line]:
    params = request.params
    return [Line(sku=sku, quantity=int(params[sku])) for sku in PRICES if params.get(sku)]


def priced(request):
    context = PricingContext(
        currency=request.registry.settings["mercato.currency"],
        dbsession=request.dbsession,
        request=request,
    )
    return price_lines(request.hooks, basket(request), context)


def as_json(cart) -> dict:
    return {
        "subtotal": cart.subtotal.amount,
        "total": cart.total.amount,
        "adjustments": [
            {"label": a.label, "amount": a.amount.amount, "code": a.code, "source": a.source}
            for a in cart.adjustments
        ],
    }


@view_config(route_name="standin_cart", renderer="standin/cart.jinja2")
def cart_page(request):
    return {"cart": priced(request)}


@view_config(route_name="standin_cart_json", renderer="json")
def cart_json(request):
    return as_json(priced(request))


@view_config(route_name="standin_checkout", request_method="POST", renderer="json")
def checkout(request):
    cart = priced(request)
    order = StandInOrder(currency=cart.currency, total=cart.total.amount)
    order.adjustments = as_json(cart)["adjustments"]
    request.dbsession.add(order)
    request.dbsession.flush()
    try:
        request.hooks.mercato_order_placed(order=order)
    except CheckoutError as refused:
        # As the kernel's checkout does: the message for the shopper, and a 4xx that
        # aborts the transaction (tm.commit_veto).
        request.response.status_int = refused.status
        return {"error": refused.message}

    def after_commit(committed: bool) -> None:
        if committed:
            request.hooks.mercato_cart_checked_out(request=request, order=order)

    request.tm.get().addAfterCommitHook(after_commit)
    return {"order": order.id, "total": order.total}


class StandInShop:
    @hookimpl
    def mercato_unit_price(self, sku, context):
        return Money(PRICES[sku], context.currency) if sku in PRICES else None

    @hookimpl
    def mercato_configure(self, config):
        config.add_jinja2_search_path(str(Path(__file__).parent / "templates"), name=".jinja2")
        config.add_route("standin_cart", "/standin/cart")
        config.add_route("standin_cart_json", "/standin/cart.json")
        config.add_route("standin_checkout", "/standin/checkout")
        config.scan(__name__)


shop = StandInShop()
