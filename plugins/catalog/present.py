"""How catalog objects are shown: to templates, to other plugins' slots, as JSON."""

from sqlalchemy import select

from mercato import SkuDetails

from .images import SIZES
from .models import Product, ProductImage, Variant

LOW_STOCK = 5


def image_url(request, image, size: str = "medium") -> str:
    """URL of one rendition of ``image`` (a ``ProductImage`` or a listing card's dict)."""
    if isinstance(image, dict):
        key, extension = image["key"], image["extension"]
    else:
        key, extension = image.key, image.extension
    return request.registry.catalog_storage.url(request, f"{key}/{size}.{extension}")


def stock_state(stock: int, active: bool = True) -> dict:
    """A machine-readable state and the sentence a shopper reads."""
    if not active or stock <= 0:
        return {"state": "sold_out", "label": "Sold out"}
    if stock <= LOW_STOCK:
        return {"state": "low", "label": f"Only {stock} left"}
    return {"state": "in_stock", "label": "In stock"}


def variant_info(variant) -> dict:
    """A variant for templates and for other plugins' slots (``product_actions``)."""
    return {
        "sku": variant.sku,
        "name": variant.label,
        "options": dict(variant.options),
        "price": variant.price,
        "stock": variant.stock if variant.active else 0,
        "available": variant.active and variant.stock > 0,
        **stock_state(variant.stock, variant.active),
    }


def product_info(request, product) -> dict:
    return {
        "id": product.id,
        "slug": product.slug,
        "name": product.name,
        "url": request.route_path("catalog_product", slug=product.slug),
    }


def image_json(request, image) -> dict:
    return {
        "alt": image.alt,
        "width": image.width,
        "height": image.height,
        "urls": {size: image_url(request, image, size) for size in SIZES},
    }


def card_json(request, card) -> dict:
    data = card.to_json()
    data["url"] = request.route_path("catalog_product", slug=card.slug)
    if card.image:
        data["image"] = {
            "alt": card.image["alt"],
            "urls": {size: image_url(request, card.image, size) for size in SIZES},
        }
    return data


def product_json(request, product) -> dict:
    return {
        "slug": product.slug,
        "name": product.name,
        "description": product.description,
        "attributes": product.attributes,
        "url": request.route_path("catalog_product", slug=product.slug),
        "categories": [
            {"slug": c.slug, "name": c.name, "path": c.path} for c in product.categories
        ],
        "images": [image_json(request, image) for image in product.images],
        "variants": [
            {
                "sku": v["sku"],
                "name": v["name"],
                "options": v["options"],
                "price": v["price"].to_json(),
                "available": v["available"],
                "stock_state": v["state"],
            }
            for v in (variant_info(variant) for variant in product.variants if variant.active)
        ],
    }


def sku_details(request, skus) -> dict:
    """Display names and links of the catalog's SKUs, for cart and checkout lines."""
    rows = request.read_dbsession.execute(
        select(Variant.sku, Variant.name, Product.name, Product.slug, Product.id)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.sku.in_(list(skus)))
    ).all()
    # Descending position: the dict keeps the last one seen, the product's first image.
    first_images = {
        image.product_id: image
        for image in request.read_dbsession.scalars(
            select(ProductImage)
            .where(ProductImage.product_id.in_({row[4] for row in rows}))
            .order_by(ProductImage.product_id, ProductImage.position.desc())
        )
    }
    details = {}
    for sku, variant_name, product_name, slug, product_id in rows:
        image = first_images.get(product_id)
        details[sku] = SkuDetails(
            name=f"{product_name} – {variant_name}" if variant_name else product_name,
            url=request.route_path("catalog_product", slug=slug),
            image_url=image_url(request, image, "thumb") if image is not None else None,
        )
    return details
