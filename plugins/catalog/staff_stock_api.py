"""Stock changes through the staff JSON API (permission ``catalog.manage``):
``POST /api/staff/stock`` with ``{"changes": [{"sku": "TEE", "adjust": 12}]}``.

An integration says what happened to the shelf (12 units received: ``+12``; 2 found
broken: ``-2``), never an absolute count: units sold while its message was on the way
stay sold. Each change is the stock page's guarded UPDATE (``admin_stock``), so the
stock never goes below zero; all or nothing: one refused change (an unknown SKU, more
taken off than is there now) answers 4xx naming its SKU and no stock moves.
"""

import colander
from pyramid.httpexceptions import HTTPBadRequest
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from . import events
from .admin_stock import MANAGE, MAX_INPUT, MAX_ROWS, Row, _apply
from .models import Product, Variant


class WholeNumber(colander.Int):
    """A JSON whole number: ``true``, ``1.5`` or ``"2"`` are refused, not read as 1."""

    def deserialize(self, node, cstruct):
        if cstruct is not colander.null and (
            isinstance(cstruct, bool) or not isinstance(cstruct, int)
        ):
            raise colander.Invalid(node, "Must be a whole number.")
        return super().deserialize(node, cstruct)


class StockChange(colander.MappingSchema):
    sku = colander.SchemaNode(colander.String(), validator=colander.Length(min=1, max=64))
    adjust = colander.SchemaNode(
        WholeNumber(),
        validator=colander.Range(min=-MAX_INPUT, max=MAX_INPUT),
        description="Units added (received) or, negative, taken off (lost, broken).",
    )


class StockChanges(colander.MappingSchema):
    changes = colander.SchemaNode(
        colander.Sequence(), StockChange(), validator=colander.Length(min=1, max=MAX_ROWS)
    )


def includeme(config):
    config.add_route("catalog_api_staff_stock", "/api/staff/stock")
    config.scan(__name__)


def _refused(request, status: int, message: str, sku: str | None = None, fields=None) -> dict:
    # The 4xx vetoes the commit: changes applied before the refused one are undone.
    request.response.status_int = status
    error = {"status": status, "message": message, "field": "changes"}
    if sku:
        error["sku"] = sku
    if fields:
        error["fields"] = fields
    return {"error": error}


@view_config(
    route_name="catalog_api_staff_stock",
    request_method="POST",
    renderer="json",
    permission=MANAGE,
)
def change_stock(request):
    try:
        body = request.json_body
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise HTTPBadRequest('Send {"changes": [{"sku": "TEE", "adjust": 12}]}.')
    try:
        changes = StockChanges().deserialize({"changes": body.get("changes", colander.null)})
    except colander.Invalid as exc:
        return _refused(request, 400, "Some changes need your attention.", fields=exc.asdict())
    adjust: dict[str, int] = {}
    for change in changes["changes"]:
        adjust[change["sku"]] = adjust.get(change["sku"], 0) + change["adjust"]
    session = request.dbsession
    variants = {
        v.sku: v
        for v in session.scalars(
            select(Variant)
            .join(Variant.product)
            .options(contains_eager(Variant.product))
            .where(Variant.sku.in_(adjust))
        )
    }
    if unknown := sorted(set(adjust) - set(variants)):
        return _refused(request, 400, f"No variant has the SKU {unknown[0]}.", unknown[0])
    # SKU order, like a checkout's reservations: concurrent changes queue, never deadlock.
    for sku in sorted(adjust):
        variant = variants[sku]
        before = variant.stock
        stock = _apply(session, Row(variant, str(before + adjust[sku]), str(before)))
        if stock is None:
            now = session.scalar(select(Variant.stock).where(Variant.id == variant.id))
            if adjust[sku] < 0:
                message = (
                    f"{sku} has {now} in stock: taking {-adjust[sku]} off would go below zero."
                )
            else:
                message = (
                    f"{sku} has {now} in stock: adding {adjust[sku]} is more than it can hold."
                )
            return _refused(request, 409, message, sku)
        events.stock_changed(session, variant, stock - adjust[sku], stock)
    products: dict[int, Product] = {v.product.id: v.product for v in variants.values()}
    for product in products.values():
        events.product_changed(session, product, "updated")
    return {"stock": [{"sku": sku, "stock": variants[sku].stock} for sku in sorted(adjust)]}
