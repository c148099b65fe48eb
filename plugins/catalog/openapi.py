"""The catalog's part of the OpenAPI document (``mercato_openapi``): the read-only
catalog API (``api``) and the staff product API (``staff_api``)."""

from .search import SORTS
from .staff_api import MAX_ITEMS
from .staff_stock_api import StockChanges

MONEY = {"$ref": "#/components/schemas/Money"}
TEXT = {"type": "string"}
IMAGE_URLS = {
    "type": "object",
    "description": "The picture at each size: thumb (320 px), medium (800), large (1600).",
    "additionalProperties": TEXT,
}
CARD = {
    "type": "object",
    "properties": {
        "slug": TEXT,
        "name": TEXT,
        "price_from": {"oneOf": [MONEY, {"type": "null"}]},
        "in_stock": {"type": "boolean"},
        "url": TEXT,
        "image": {
            "type": ["object", "null"],
            "properties": {"alt": TEXT, "urls": IMAGE_URLS},
        },
    },
    "required": ["slug", "name", "price_from", "in_stock", "url"],
}
LISTING = {
    "items": {"type": "array", "items": {"$ref": "#/components/schemas/ProductCard"}},
    "total": {"type": "integer", "minimum": 0},
    "page": {"type": "integer", "minimum": 1},
    "per_page": {"type": "integer", "minimum": 1},
    "pages": {"type": "integer", "minimum": 0},
}
CATEGORY = {
    "type": "object",
    "properties": {
        "slug": TEXT,
        "name": TEXT,
        "path": TEXT,
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Category"}},
    },
    "required": ["slug", "name", "path", "children"],
}
PRODUCT = {
    "type": "object",
    "properties": {
        "slug": TEXT,
        "name": TEXT,
        "description": TEXT,
        "attributes": {"type": "object"},
        "tax_class": TEXT,
        "url": TEXT,
        "categories": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"slug": TEXT, "name": TEXT, "path": TEXT},
                "required": ["slug", "name", "path"],
            },
        },
        "images": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "alt": TEXT,
                    "width": {"type": ["integer", "null"]},
                    "height": {"type": ["integer", "null"]},
                    "urls": IMAGE_URLS,
                },
            },
        },
        "variants": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": TEXT,
                    "name": TEXT,
                    "options": {"type": "object", "additionalProperties": TEXT},
                    "price": MONEY,
                    "available": {"type": "boolean"},
                    "stock_state": TEXT,
                    "weight_grams": {"type": ["integer", "null"]},
                },
                "required": ["sku", "price", "available"],
            },
        },
    },
    "required": ["slug", "name", "variants"],
}
STAFF_VARIANT = {
    "type": "object",
    "properties": {
        "sku": TEXT,
        "name": TEXT,
        "options": {"type": "object"},
        "price": MONEY,
        "stock": {"type": "integer"},
        "weight_grams": {"type": ["integer", "null"]},
        "active": {"type": "boolean"},
    },
    "required": ["sku", "price", "stock", "active"],
}
STAFF_PRODUCT = {
    "type": "object",
    "properties": {
        "slug": TEXT,
        "name": TEXT,
        "description": TEXT,
        "active": {"type": "boolean"},
        "tax_class": TEXT,
        "categories": {"type": "array", "items": TEXT},
        "variants": {"type": "array", "items": STAFF_VARIANT},
    },
    "required": ["slug", "name", "active", "tax_class", "categories", "variants"],
}


def _product_input(variant_required: list[str]) -> dict:
    """A product as staff send it: ``POST`` with its variants, ``PATCH`` the fields to
    change (variants named by SKU; their stock changes on the stock page or by CSV)."""
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "slug": {"type": "string", "maxLength": 200},
            "description": TEXT,
            "active": {"type": "boolean"},
            "tax_class": {"type": "string", "enum": ["standard", "reduced", "zero"]},
            "categories": {"type": "array", "items": TEXT, "maxItems": MAX_ITEMS},
            "variants": {
                "type": "array",
                "maxItems": MAX_ITEMS,
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string", "maxLength": 64},
                        "name": TEXT,
                        "price": {
                            "type": "string",
                            "description": 'In the shop\'s currency: "24.90".',
                        },
                        "stock": {"type": "integer", "minimum": 0},
                        "weight_grams": {"type": "integer", "minimum": 0},
                        "active": {"type": "boolean"},
                    },
                    "required": variant_required,
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    }


def _query(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


LISTING_PARAMETERS = [
    _query("category", TEXT, "A category's slug: its products and its subcategories'."),
    _query("min_price", TEXT, 'The lowest price, in the shop\'s currency: "10" or "9.90".'),
    _query("max_price", TEXT, "The highest price."),
    _query("in_stock", {"type": "string", "enum": ["1", "true", "on"]}, "Only what is in stock."),
    _query("page", {"type": "integer", "minimum": 1}, "From 1."),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "1 to 100."),
]


def _sort(default: str) -> dict:
    return _query("sort", {"type": "string", "enum": list(SORTS), "default": default}, "The order.")


def _read(summary: str, schema: dict, parameters=(), tag: str = "catalog") -> dict:
    return {
        "get": {
            "tags": [tag],
            "summary": summary,
            "parameters": list(parameters),
            "responses": {
                "200": {
                    "description": summary,
                    "content": {"application/json": {"schema": schema}},
                },
                "304": {"description": "Not modified since the ETag sent in If-None-Match."},
            },
        }
    }


def _staff(summary: str, status: str, body: dict | None) -> dict:
    operation = {
        "tags": ["staff: catalog"],
        "summary": summary,
        "responses": {
            status: {
                "description": "The product as staff see it.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "product": {"$ref": "#/components/schemas/StaffProduct"}
                            },
                            "required": ["product"],
                        }
                    }
                },
            }
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


def fragment() -> dict:
    return {
        "components": {
            "schemas": {
                "ProductCard": CARD,
                "Category": CATEGORY,
                "Product": PRODUCT,
                "StaffProduct": STAFF_PRODUCT,
            }
        },
        "paths": {
            "/api/products": _read(
                "Products, newest first by default",
                {"type": "object", "properties": LISTING, "required": list(LISTING)},
                [*LISTING_PARAMETERS, _sort("newest")],
            ),
            "/api/products/{slug}": _read(
                "A product with its variants", {"$ref": "#/components/schemas/Product"}
            ),
            "/api/search": _read(
                "Full-text search with category facets (typos forgiven)",
                {
                    "type": "object",
                    "properties": {
                        **LISTING,
                        "query": TEXT,
                        "fuzzy": {"type": "boolean", "description": "Close matches only."},
                        "facets": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "category": TEXT,
                                    "name": TEXT,
                                    "count": {"type": "integer"},
                                    "selected": {"type": "boolean"},
                                },
                                "required": ["category", "name", "count", "selected"],
                            },
                        },
                    },
                    "required": [*LISTING, "query", "fuzzy", "facets"],
                },
                [
                    _query("q", TEXT, "The words to look for."),
                    *LISTING_PARAMETERS,
                    _sort("relevance"),
                ],
            ),
            "/api/categories": _read(
                "The category tree",
                {
                    "type": "object",
                    "properties": {
                        "categories": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Category"},
                        }
                    },
                    "required": ["categories"],
                },
            ),
            "/api/staff/products": {
                "post": _staff(
                    "Create a product with its variants",
                    "201",
                    {**_product_input(["sku", "price"]), "required": ["name", "variants"]},
                )
            },
            "/api/staff/stock": {
                "post": {
                    "tags": ["staff: catalog"],
                    "summary": "Add units to, or take units off, the stock of variants",
                    "description": "Relative changes, so that units sold meanwhile stay sold; "
                    "all or nothing: an unknown SKU (400) or more taken off than is there "
                    "(409) moves no stock.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": StockChanges()}},
                    },
                    "responses": {
                        "200": {
                            "description": "The stock of each variant named, now.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "stock": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "properties": {
                                                        "sku": TEXT,
                                                        "stock": {"type": "integer", "minimum": 0},
                                                    },
                                                    "required": ["sku", "stock"],
                                                },
                                            }
                                        },
                                        "required": ["stock"],
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/api/staff/products/{slug}": {
                "get": _staff("A product as staff see it (hidden ones too)", "200", None),
                "patch": _staff(
                    "Change the fields named, keep the rest", "200", _product_input(["sku"])
                ),
            },
        },
    }
