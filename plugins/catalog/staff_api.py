"""The staff JSON API for products (permission ``catalog.manage``).

``POST /api/staff/products`` creates a product with its variants; ``GET
/api/staff/products/{slug}`` reads it as staff see it (hidden products and variants,
stock, tax class, weights); ``PATCH`` changes the fields it names and keeps the rest.

Product fields: ``name``, ``slug``, ``description``, ``active``, ``tax_class``
(standard, reduced or zero), ``categories`` (slugs) and ``variants``; variant fields:
``sku``, ``name``, ``price`` (a string in the shop's currency, "24.90"), ``stock``,
``weight_grams`` and ``active``. A PATCH names existing variants by ``sku``.

Values are checked with the admin form's schemas (``checks``), so they are refused
with the same messages: any bad one answers 400 ``{"error": {"status", "message",
"fields": {field: reason}}}`` and nothing is written. Stock is given when a variant is
created; later changes go through the stock page or a CSV import, which keep the
units sold meanwhile.
"""

from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound
from pyramid.view import view_config

from . import events, queries, services
from .admin import require_security_policy
from .checks import (
    categories_named,
    checked,
    checked_variant,
    new_variant,
    sku_taken,
    slug_taken,
)
from .models import Product, Variant
from .schemas import ProductForm
from .views import slug_from_path

MANAGE = "catalog.manage"
PRODUCT_FIELDS = {
    "name": str,
    "slug": str,
    "description": str,
    "active": bool,
    "tax_class": str,
    "categories": list,
    "variants": list,
}
VARIANT_FIELDS = {
    "sku": str,
    "name": str,
    "price": str,
    "stock": int,
    "weight_grams": int,
    "active": bool,
}
TYPE_NAMES = {str: "a string", bool: "true or false", int: "a whole number", list: "a list"}
MAX_ITEMS = 100  # variants or categories in one request


def staff_product_json(product: Product) -> dict:
    return {
        "slug": product.slug,
        "name": product.name,
        "description": product.description,
        "active": product.active,
        "tax_class": product.tax_class,
        "categories": [c.slug for c in product.categories],
        "variants": [
            {
                "sku": v.sku,
                "name": v.name,
                "options": v.options,
                "price": v.price.to_json(),
                "stock": v.stock,
                "weight_grams": v.weight,
                "active": v.active,
            }
            for v in product.variants
        ],
    }


def _json_object(request) -> dict:
    try:
        body = request.json_body
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise HTTPBadRequest("Send the product as a JSON object.")
    return body


def _as_form(item, fields: dict, prefix: str, errors: dict) -> dict | None:
    """A JSON object's fields as the admin form would send them (text under
    ``prefix``); a wrong type or an unknown field is that field's error. None when
    ``item`` is not an object."""
    if not isinstance(item, dict):
        errors[prefix.rstrip(".")] = "Send a JSON object."
        return None
    values = {}
    for key, value in item.items():
        kind = fields.get(key)
        if kind is None:
            errors[prefix + key[:100]] = "Unknown field."
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            errors[prefix + key] = f"Must be {TYPE_NAMES[kind]}."
        elif kind is list:
            if len(value) > MAX_ITEMS:
                errors[prefix + key] = f"At most {MAX_ITEMS} at a time."
            values[prefix + key] = value[:MAX_ITEMS]
        elif kind is bool:
            values[prefix + key] = "true" if value else "false"
        else:
            values[prefix + key] = str(value)
    return values


def _category_slugs(values: dict, errors: dict) -> list[str]:
    slugs = values.get("categories", [])
    if not all(isinstance(slug, str) for slug in slugs):
        errors["categories"] = "Must be a list of category slugs."
        return []
    return slugs


def _refused(request, errors: dict) -> dict:
    # The 400 also vetoes the commit: nothing of this request is kept.
    request.response.status_int = 400
    message = "Nothing was saved: some fields need your attention."
    return {"error": {"status": 400, "message": message, "fields": errors}}


def _product_or_404(request) -> Product:
    product = queries.product_for_staff(request.dbsession, slug_from_path(request))
    if product is None:
        raise HTTPNotFound("No product has that slug.")
    return product


def _new_variants(session, items, currency: str, errors: dict) -> list:
    """The checked ``(values, price)`` of each new variant."""
    variants, skus = [], set()
    for index, item in enumerate(items):
        prefix = f"variants.{index}."
        given = _as_form(item, VARIANT_FIELDS, prefix, errors)
        if given is None:
            continue
        defaults = {prefix + "active": "true", prefix + "stock": "0"}
        values, price = checked_variant({**defaults, **given}, prefix, currency, errors)
        if values is None:
            continue
        if values["sku"] in skus or sku_taken(session, values["sku"]):
            errors[prefix + "sku"] = f"The SKU {values['sku']} is already in use."
        skus.add(values["sku"])
        variants.append((values, price))
    return variants


@view_config(
    route_name="catalog_api_staff_products",
    request_method="POST",
    renderer="json",
    permission=MANAGE,
)
def create_product(request):
    require_security_policy(request)
    session = request.dbsession
    currency = request.registry.settings["mercato.currency"]
    errors: dict[str, str] = {}
    values = {"active": "true", **_as_form(_json_object(request), PRODUCT_FIELDS, "", errors)}
    data = checked(ProductForm(), values, "", errors)
    categories = categories_named(session, _category_slugs(values, errors), errors)
    variants = _new_variants(session, values.get("variants", []), currency, errors)
    if not values.get("variants") and "variants" not in errors:
        errors["variants"] = "A product needs at least one variant."
    slug = (data["slug"] or services.slugify(data["name"], 200)) if data else None
    if slug and slug_taken(session, slug, None):
        errors["slug"] = f"Another product already uses the address {slug}."
    if errors:
        return _refused(request, errors)
    product = Product(
        slug=slug,
        name=data["name"],
        description=data["description"],
        active=data["active"],
        tax_class=data["tax_class"],
    )
    product.categories = categories
    for position, (variant, price) in enumerate(variants):
        product.variants.append(new_variant(variant, price, currency, position))
    session.add(product)
    session.flush()
    events.product_changed(session, product, "created")
    request.response.status_int = 201
    return {"product": staff_product_json(product)}


@view_config(
    route_name="catalog_api_staff_product",
    request_method="GET",
    renderer="json",
    permission=MANAGE,
)
def read_product(request):
    require_security_policy(request)
    request.response.cache_control.no_store = True
    return {"product": staff_product_json(_product_or_404(request))}


def _product_values(product: Product) -> dict:
    return {
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "active": "true" if product.active else "false",
        "tax_class": product.tax_class,
    }


def _variant_values(variant: Variant, prefix: str) -> dict:
    return {
        prefix + "name": variant.name,
        prefix + "price": str(variant.price.decimal()),
        prefix + "stock": str(variant.stock),
        prefix + "weight_grams": str(variant.weight),
        prefix + "active": "true" if variant.active else "false",
    }


def _variant_changes(product: Product, items, currency: str, errors: dict) -> list:
    """The checked ``(variant, values, price)`` of each existing variant named."""
    by_sku = {variant.sku: variant for variant in product.variants}
    changes = []
    for index, item in enumerate(items):
        prefix = f"variants.{index}."
        given = _as_form(item, VARIANT_FIELDS, prefix, errors)
        if given is None or prefix + "sku" in errors:
            continue
        if prefix + "stock" in given:
            errors[prefix + "stock"] = (
                "Change the stock on the stock page or with a CSV import: "
                "they keep the units sold meanwhile."
            )
        variant = by_sku.get(given.get(prefix + "sku"))
        if variant is None:
            errors[prefix + "sku"] = "This product has no variant with that SKU."
            continue
        fields = {**_variant_values(variant, prefix), **given}
        values, price = checked_variant(fields, prefix, currency, errors, sku=variant.sku)
        if values is not None:
            changes.append((variant, values, price))
    return changes


@view_config(
    route_name="catalog_api_staff_product",
    request_method="PATCH",
    renderer="json",
    permission=MANAGE,
)
def update_product(request):
    require_security_policy(request)
    product = _product_or_404(request)
    session = request.dbsession
    currency = request.registry.settings["mercato.currency"]
    errors: dict[str, str] = {}
    given = _as_form(_json_object(request), PRODUCT_FIELDS, "", errors)
    values = {**_product_values(product), **given}
    data = checked(ProductForm(), values, "", errors)
    categories = None
    if "categories" in given:
        categories = categories_named(session, _category_slugs(given, errors), errors)
    changes = _variant_changes(product, given.get("variants", []), currency, errors)
    slug = (data["slug"] or product.slug) if data else product.slug
    if slug_taken(session, slug, product.id):
        errors["slug"] = f"Another product already uses the address {slug}."
    if errors:
        return _refused(request, errors)
    product.name, product.slug, product.description = data["name"], slug, data["description"]
    product.active, product.tax_class = data["active"], data["tax_class"]
    if categories is not None:
        product.categories = categories
    for variant, new, price in changes:
        variant.name, variant.active = new["name"], new["active"]
        variant.weight = new["weight_grams"]
        variant.price_amount, variant.price_currency = price, currency
    session.flush()
    events.product_changed(session, product, "updated")
    return {"product": staff_product_json(product)}
