"""The catalog's JSON API for headless and mobile clients (read-only, cacheable).

Query parameters are the storefront's (``q``, ``category``, ``min_price``,
``max_price``, ``sort``, ``page``) plus ``per_page`` (1–100). Bad values get a 400
with ``{"error": {"status", "message"}}`` from the kernel's error views.
"""

from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound
from pyramid.view import view_config

from mercato import rate_limit

from . import present, queries
from .caching import json_page
from .views import parse_params, query_params, run_search, slug_from_path

MAX_PER_PAGE = 100


def _per_page(request, default: int) -> int:
    raw = (query_params(request).get("per_page") or "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw[:4]) <= MAX_PER_PAGE:
        raise HTTPBadRequest(f"per_page must be a whole number from 1 to {MAX_PER_PAGE}.")
    return int(raw)


def _listing(request, result) -> dict:
    params = result.params
    return {
        "items": [present.card_json(request, card) for card in result.items],
        "total": result.total,
        "page": params.page,
        "per_page": params.per_page,
        "pages": result.pages,
    }


@view_config(route_name="catalog_api_products", request_method=("GET", "HEAD"))
def products_api(request):
    params = parse_params(request, default_sort="newest")
    params.q = ""
    params.per_page = _per_page(request, params.per_page)
    return json_page(request, _listing(request, run_search(request, params, with_facets=False)))


@view_config(route_name="catalog_api_search", request_method=("GET", "HEAD"))
def search_api(request):
    rate_limit(request, "search")
    params = parse_params(request, default_sort="relevance")
    params.per_page = _per_page(request, params.per_page)
    result = run_search(request, params)
    body = _listing(request, result)
    body.update(
        query=params.q,
        fuzzy=result.fuzzy,
        facets=[
            {"category": f.slug, "name": f.name, "count": f.count, "selected": f.selected}
            for f in result.facets
        ],
    )
    return json_page(request, body)


@view_config(route_name="catalog_api_product", request_method=("GET", "HEAD"))
def product_api(request):
    product = queries.product_by_slug(request.read_dbsession, slug_from_path(request))
    if product is None:
        raise HTTPNotFound("No product has that slug.")
    return json_page(request, present.product_json(request, product))


@view_config(route_name="catalog_api_categories", request_method=("GET", "HEAD"))
def categories_api(request):
    tree = queries.category_tree(request.read_dbsession)
    return json_page(request, {"categories": [node.to_json() for node in tree]})
