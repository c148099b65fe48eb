"""How catalog objects are shown: to templates, to other plugins' slots, as JSON."""

from mercato import SkuDetails

from .facts import facts
from .images import SIZES, rendition_size

LOW_STOCK = 5


def image_url(request, image, size: str = "medium") -> str:
    """URL of one rendition of ``image`` (a ``ProductImage`` or a listing card's dict)."""
    if isinstance(image, dict):
        key, extension = image["key"], image["extension"]
    else:
        key, extension = image.key, image.extension
    return request.registry.catalog_storage.url(request, f"{key}/{size}.{extension}")


def _field(image, name: str):
    return image[name] if isinstance(image, dict) else getattr(image, name)


class Pictures:
    """What a template needs to show a picture responsively (``catalog/_macros``'s
    ``picture``): a rendition's URL and size, and every rendition as a ``srcset``."""

    def __init__(self, request):
        self.request = request

    def url(self, image, size: str = "medium") -> str:
        return image_url(self.request, image, size)

    def size(self, image, size: str) -> tuple[int, int]:
        """The pixels of one rendition, for ``width``/``height`` (no layout shift)."""
        return rendition_size(_field(image, "width"), _field(image, "height"), SIZES[size])

    def srcset(self, image) -> str:
        """Each distinct rendition with its true width: a picture smaller than an edge
        was not enlarged, and is listed once."""
        width, height = _field(image, "width"), _field(image, "height")
        candidates: dict[int, str] = {}
        for size, edge in SIZES.items():
            candidates.setdefault(rendition_size(width, height, edge)[0], self.url(image, size))
        return ", ".join(f"{url} {w}w" for w, url in candidates.items())


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
        "weight": variant.weight,
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
        "tax_class": product.tax_class,
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
                "weight_grams": v["weight"],
            }
            for v in (variant_info(variant) for variant in product.variants if variant.active)
        ],
    }


def sku_details(request, skus) -> dict:
    """Display names and links of the catalog's SKUs, for cart and checkout lines, with
    what shipping and tax need: the product's tax class and the variant's weight.

    Read through the primary session, with the facts pricing and stock use in the same
    request: the cart describes its lines first, which makes the whole cart one query.
    """
    details = {}
    for sku, known in facts(request.dbsession, list(skus)).items():
        if known is None:
            continue
        name = known.product_name
        details[sku] = SkuDetails(
            name=f"{name} – {known.variant_name}" if known.variant_name else name,
            url=request.route_path("catalog_product", slug=known.slug),
            image_url=image_url(request, known.image, "thumb") if known.image else None,
            tax_class=known.tax_class,
            weight=known.weight,
        )
    return details
