"""Storefront pages: home, category listing, product, search; and the media route.

Every page reads through ``request.read_dbsession`` (a replica when one is configured)
and leaves with an ETag; see ``caching`` for when a page may be shared. The product
page is the exception: it comes from the page cache (``mercato.render_cached``) and is
rendered, on a miss, from the primary.
"""

from pyramid.httpexceptions import HTTPBadRequest, HTTPFound, HTTPMethodNotAllowed, HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config

from mercato import page_key, rate_limit, render_cached

from . import pagetags, present, queries, search
from .caching import cacheable, render_page
from .images import CONTENT_TYPES
from .services import SLUG
from .storage import InvalidKey, check_key

MEDIA_MAX_AGE = 365 * 24 * 3600


def slug_from_path(request) -> str:
    """The ``slug`` of the address, or a 404 for what no slug can be (PostgreSQL would
    refuse a NUL byte with an error, not a miss)."""
    slug = request.matchdict["slug"]
    if len(slug) > 200 or not SLUG.match(slug):
        raise HTTPNotFound()
    return slug


def catalog_settings(request) -> dict:
    return request.registry.settings["mercato.catalog"]


def shop_currency(request) -> str:
    return request.registry.settings["mercato.currency"]


def query_params(request):
    """``request.GET``, or a 400 when the query string is not UTF-8 (WebOb would raise)."""
    try:
        return request.GET
    except UnicodeDecodeError:
        raise HTTPBadRequest("The address contains characters that are not valid text.") from None


def parse_params(request, default_sort: str) -> search.SearchParams:
    params = query_params(request)
    try:
        return search.parse_params(
            params,
            shop_currency(request),
            catalog_settings(request)["page_size"],
            default_sort,
        )
    except search.InvalidParameter as exc:
        raise HTTPBadRequest(str(exc)) from None


def listing_counts(request) -> search.ListingCounts:
    counts = getattr(request.registry, "catalog_listing_counts", None)
    if counts is None:
        counts = request.registry.catalog_listing_counts = search.ListingCounts()
    return counts


def run_search(request, params, with_facets=True, category=None) -> search.SearchResult:
    try:
        return search.search(
            request.read_dbsession,
            params,
            shop_currency(request),
            with_facets,
            category,
            listing_counts(request),
        )
    except search.InvalidParameter as exc:
        raise HTTPBadRequest(str(exc)) from None


class Links:
    """Links to the same listing with one thing changed (page, sort, facet)."""

    def __init__(self, request, route: str, params: search.SearchParams, **route_kw):
        self.request, self.route, self.params, self.route_kw = request, route, params, route_kw

    def __call__(self, **changes) -> str:
        args = self.params.query_args(shop_currency(self.request), **changes)
        if self.route != "catalog_search":
            args.pop("category", None)
            args.pop("q", None)
        return self.request.route_path(self.route, _query=args, **self.route_kw)


@view_config(route_name="home")
def home_view(request):
    session = request.read_dbsession
    value = {
        "categories": queries.category_tree(session),
        "products": search.newest(session, shop_currency(request), limit=12),
        "image_url": lambda image, size="thumb": present.image_url(request, image, size),
    }
    return render_page("catalog/home.jinja2", value, request)


@view_config(route_name="catalog_category", request_method=("GET", "HEAD"))
def category_view(request):
    session = request.read_dbsession
    category = search.find_category(session, slug_from_path(request))
    if category is None:
        raise HTTPNotFound()
    params = parse_params(request, default_sort="newest")
    params.q, params.category = "", category.slug
    # The category found above is handed on: looking it up again cost a query.
    result = run_search(request, params, with_facets=False, category=category)
    trail, subcategories = queries.family(session, category)
    value = {
        "category": category,
        "trail": trail,
        "subcategories": subcategories,
        "result": result,
        "sorts": {k: v for k, v in search.SORTS.items() if k != "relevance"},
        "link": Links(request, "catalog_category", params, slug=category.slug),
        "image_url": lambda image, size="thumb": present.image_url(request, image, size),
    }
    return render_page("catalog/category.jinja2", value, request)


@view_config(route_name="catalog_product", request_method=("GET", "HEAD"))
def product_view(request):
    slug = slug_from_path(request)
    chosen = query_params(request).get("variant") or ""

    def values() -> dict:
        # The primary, not a replica: a page rendered from a lagging replica would be
        # stored as fresh under versions its data predates, and served for minutes.
        session = request.dbsession
        product = queries.product_by_slug(session, slug)
        if product is None:
            raise HTTPNotFound()
        variants = [present.variant_info(v) for v in product.variants if v.active]
        selected = None
        if chosen:
            selected = next((v for v in variants if v["sku"] == chosen), None)
            if selected is None:
                # An old link to an option that is gone: show the product, not an error.
                location = request.route_path("catalog_product", slug=product.slug)
                raise HTTPFound(location=location)
        if selected is None and variants:
            selected = next((v for v in variants if v["available"]), variants[0])
        category = product.categories[0] if product.categories else None
        return {
            "product": product,
            "info": present.product_info(request, product),
            "variants": variants,
            "selected": selected,
            "trail": queries.ancestors(session, category) if category else [],
            "image_url": lambda image, size="medium": present.image_url(request, image, size),
        }

    # The same page for every shopper but for its personal slots: served from the
    # page cache while neither this product nor the category tree changed.
    body = render_cached(
        request,
        "catalog/product.jinja2",
        key=page_key("catalog_product", slug, chosen),
        tags=(pagetags.CATALOG, pagetags.product_tag(slug)),
        values=values,
    )
    return cacheable(request, Response(body, content_type="text/html", charset="utf-8"))


@view_config(route_name="catalog_search", request_method=("GET", "HEAD"))
def search_view(request):
    # Per client address (the kernel's "search" limit): a scraper cannot turn the
    # most expensive page into a denial of service.
    rate_limit(request, "search")
    params = parse_params(request, default_sort="relevance")
    result = run_search(request, params)
    value = {
        "result": result,
        "params": params,
        "sorts": search.SORTS,
        "link": Links(request, "catalog_search", params),
        "price_text": {
            "min_price": search.major_units(params.min_price, shop_currency(request)) or "",
            "max_price": search.major_units(params.max_price, shop_currency(request)) or "",
        },
        "image_url": lambda image, size="thumb": present.image_url(request, image, size),
    }
    return render_page("catalog/search.jinja2", value, request)


@view_config(route_name="catalog_media", request_method=("GET", "HEAD"))
def media_view(request):
    """Renditions from the storage backend; their keys never change, so cache forever."""
    key = "/".join(request.matchdict["key"])
    try:
        check_key(key)
    except InvalidKey:
        raise HTTPNotFound() from None
    content_type = CONTENT_TYPES.get(key.rsplit(".", 1)[-1])
    data = request.registry.catalog_storage.load(key) if content_type else None
    if data is None:
        raise HTTPNotFound()
    response = Response(body=data, content_type=content_type)
    response.headers["Cache-Control"] = f"public, max-age={MEDIA_MAX_AGE}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


READ_ONLY_ROUTES = (
    "home",
    "catalog_category",
    "catalog_product",
    "catalog_search",
    "catalog_media",
    "catalog_api_products",
    "catalog_api_product",
    "catalog_api_search",
    "catalog_api_categories",
)


def method_not_allowed(request):
    raise HTTPMethodNotAllowed(headers={"Allow": "GET, HEAD"})


def includeme(config):
    # A write to a read-only page is a 405 that says so, not a misleading 404.
    for route in READ_ONLY_ROUTES:
        config.add_view(
            method_not_allowed,
            route_name=route,
            request_method=("POST", "PUT", "PATCH", "DELETE"),
            require_csrf=False,
        )
    config.scan(__name__)
