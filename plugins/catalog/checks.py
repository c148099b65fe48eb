"""Checking what staff send about products, for the admin form and the staff API alike:
the same values are refused with the same messages, collected per field in ``errors``.

``post`` is anything with ``get``: a form's POST, or a dict the API builds from JSON
with the same field names under a prefix.
"""

import colander
from sqlalchemy import select

from mercato import Money

from .models import MAX_AMOUNT, Category, Product, Variant
from .schemas import VariantForm


def _fields(post, names, prefix: str = "") -> dict:
    """The named form fields, an absent one (an unticked box) left out for colander."""
    values = {}
    for name in names:
        value = post.get(prefix + name)
        if value is not None:
            values[name] = value
    return values


def checked(schema, post, prefix: str, errors: dict) -> dict | None:
    names = [node.name for node in schema.children]
    try:
        return schema.deserialize(_fields(post, names, prefix))
    except colander.Invalid as exc:
        errors.update({prefix + key: message for key, message in exc.asdict().items()})
        return None


def _price(text: str, currency: str, field: str, errors: dict) -> int | None:
    try:
        amount = Money.parse(text, currency).amount
    except ValueError:
        errors[field] = f"Write the price as an amount in {currency}, such as 24.90."
        return None
    if not 0 <= amount <= MAX_AMOUNT:
        errors[field] = "The price must be 0 or more, and not absurdly large."
        return None
    return amount


def checked_variant(post, prefix: str, currency: str, errors: dict, sku: str | None = None):
    """A variant's checked fields and its price in minor units; (None, None) on errors,
    each field's reason in ``errors``."""
    fields = _fields(post, [node.name for node in VariantForm().children], prefix)
    if sku is not None:
        fields["sku"] = sku
    try:
        values = VariantForm().deserialize(fields)
    except colander.Invalid as exc:
        errors.update({prefix + key: message for key, message in exc.asdict().items()})
        values = None
    price = None
    if prefix + "price" not in errors:
        price = _price(fields.get("price", ""), currency, prefix + "price", errors)
    if values is None or price is None:
        return None, None
    return values, price


def categories_named(session, slugs, errors: dict) -> list[Category]:
    slugs = [s for s in slugs if s]
    found = {
        c.slug: c
        for c in session.execute(select(Category).where(Category.slug.in_(slugs))).scalars()
    }
    if len(found) != len(set(slugs)):
        errors["categories"] = "One of the chosen categories no longer exists."
    return [found[s] for s in dict.fromkeys(slugs) if s in found]


def slug_taken(session, slug: str, product_id: int | None) -> bool:
    other = session.execute(select(Product.id).where(Product.slug == slug)).scalar()
    return other is not None and other != product_id


def sku_taken(session, sku: str) -> bool:
    return session.execute(select(Variant.id).where(Variant.sku == sku)).first() is not None


def new_variant(values: dict, price: int, currency: str, position: int) -> Variant:
    """A variant from ``checked_variant``'s values, priced in minor units of ``currency``."""
    return Variant(
        sku=values["sku"],
        name=values["name"],
        price_amount=price,
        price_currency=currency,
        stock=values["stock"],
        weight=values["weight_grams"],
        active=values["active"],
        position=position,
    )
