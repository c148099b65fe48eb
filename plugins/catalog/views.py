"""Storefront pages: home, category listing, product, search; and the media route.

Every page leaves with an ETag; see ``caching`` for when a page may be shared. The
home, category and product pages come from the page cache (``mercato.render_cached``)
and are rendered, on a miss, from the primary; search reads through
``request.read_dbsession`` (a replica when one is configured).
"""

from urllib.parse import urlencode

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


def run_search(
    request,
    params,
    with_facets=True,
    category=None,
    session=None,
    option_facets=False,
    fresh_counts=False,
) -> search.SearchResult:
    """``fresh_counts`` for a page stored in the page cache: counted now, not taken from
    the process's counts kept 30 s, which would be stored as fresh with the page."""
    try:
        return search.search(
            session or request.read_dbsession,
            params,
            shop_currency(request),
            with_facets,
            category,
            None if fresh_counts else listing_counts(request),
            option_facets,
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


def cached_page(request, template: str, key: str, tags, values) -> Response:
    """A page of the page cache (see ``render_cached``), with the catalog's headers."""
    body = render_cached(request, template, key=key, tags=tags, values=values)
    return cacheable(request, Response(body, content_type="text/html", charset="utf-8"))


# Listings show every product's name, price, picture and whether it is in stock: any
# product's change makes them stale (``pagetags``).
LISTING_TAGS = (pagetags.CATALOG, pagetags.LISTINGS)


@view_config(route_name="home")
def home_view(request):
    def values() -> dict:
        # The primary, not a replica: see ``product_view``.
        session = request.dbsession
        return {
            "categories": queries.category_tree(session),
            "products": search.newest(session, shop_currency(request), limit=12),
            "image_url": lambda image, size="thumb": present.image_url(request, image, size),
            "pictures": present.Pictures(request),
        }

    return cached_page(request, "catalog/home.jinja2", page_key("home"), LISTING_TAGS, values)


@view_config(route_name="catalog_category", request_method=("GET", "HEAD"))
def category_view(request):
    slug = slug_from_path(request)
    params = parse_params(request, default_sort="newest")
    params.q, params.category = "", slug
    currency = shop_currency(request)

    def values() -> dict:
        session = request.dbsession  # the primary: see ``product_view``
        category = search.find_category(session, slug)
        if category is None:
            raise HTTPNotFound()
        # The category found above is handed on: looking it up again cost a query.
        result = run_search(
            request, params, with_facets=False, category=category, session=session,
            option_facets=True, fresh_counts=True,
        )  # fmt: skip
        trail, subcategories = queries.family(session, category)
        return {
            "category": category,
            "trail": trail,
            "subcategories": subcategories,
            "result": result,
            "sorts": {k: v for k, v in search.SORTS.items() if k != "relevance"},
            "link": Links(request, "catalog_category", params, slug=category.slug),
            "price_text": {
                "min_price": search.major_units(params.min_price, currency) or "",
                "max_price": search.major_units(params.max_price, currency) or "",
            },
            "image_url": lambda image, size="thumb": present.image_url(request, image, size),
            "pictures": present.Pictures(request),
        }

    # Keyed by the filters, sort and page as parsed (one key however the query string
    # spells them); any product's change makes every listing stale.
    query = urlencode(sorted(params.query_args(currency).items()), doseq=True)
    key = page_key("catalog_category", slug, query)
    return cached_page(request, "catalog/category.jinja2", key, LISTING_TAGS, values)


# A gallery has at most this many pictures one can link to (``?image=N``); anything else
# shows the first, under a key of its own no more.
MAX_PICTURE_NUMBER = 50


def picture_number(request) -> int:
    """``?image=N`` (from 1): which picture the gallery shows large; 1 when odd."""
    raw = query_params(request).get("image") or ""
    if raw.isascii() and raw.isdigit() and len(raw) <= 2 and 1 <= int(raw) <= MAX_PICTURE_NUMBER:
        return int(raw)
    return 1


@view_config(route_name="catalog_product", request_method=("GET", "HEAD"))
def product_view(request):
    slug = slug_from_path(request)
    chosen = query_params(request).get("variant") or ""
    number = picture_number(request)

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

        def picture_link(n: int) -> str:
            # The same page with picture ``n`` large: the gallery without JavaScript.
            query = {"variant": chosen or None, "image": n if n > 1 else None}
            query = {k: v for k, v in query.items() if v is not None}
            return request.route_path("catalog_product", slug=product.slug, _query=query)

        return {
            "product": product,
            "info": present.product_info(request, product),
            "variants": variants,
            "selected": selected,
            "trail": queries.ancestors(session, category) if category else [],
            "image_url": lambda image, size="medium": present.image_url(request, image, size),
            "pictures": present.Pictures(request),
            "shown": number - 1 if number <= len(product.images) else 0,
            "picture_link": picture_link,
        }

    # The same page for every shopper but for its personal slots: served from the
    # page cache while neither this product nor the category tree changed.
    return cached_page(
        request,
        "catalog/product.jinja2",
        page_key("catalog_product", slug, chosen, str(number)),
        (pagetags.CATALOG, pagetags.product_tag(slug)),
        values,
    )


@view_config(route_name="catalog_search", request_method=("GET", "HEAD"))
def search_view(request):
    # Per client address (the kernel's "search" limit): a scraper cannot turn the
    # most expensive page into a denial of service. Counted for cached pages too.
    rate_limit(request, "search")
    params = parse_params(request, default_sort="relevance")
    settings = request.registry.settings
    # Search reads a replica when the shop has one (``sqlalchemy.read_url``): a page
    # rendered from a lagging replica would be stored as fresh under versions its data
    # predates and served for minutes (see ``product_view``). So the page cache keeps
    # search pages only in shops without a replica, where search reads the primary.
    if not settings["mercato.page_cache.max_age"] or settings.get("sqlalchemy.read_url"):
        value = search_values(request, params, request.read_dbsession, listing_counts(request))
        return render_page("catalog/search.jinja2", value, request)

    def values() -> dict:
        # No per-process counts: a query's category counts kept up to 30 s would be
        # stored with the page as fresh, and served until the next change. The session
        # is made only here: a page served from the cache needs none (making one, and
        # joining it to the transaction, was most of a cached page's own time).
        return search_values(request, params, request.dbsession, None)

    # Like a listing: the same page for every shopper but for its personal slots (the
    # search box shows the query from the address), stale after any product's change.
    # Keyed by the query, filters, sort and page as parsed ("?q=coat&page=1" and
    # "?page=1&q=coat" are one page). A popular search then costs no SQL.
    query = urlencode(sorted(params.query_args(shop_currency(request)).items()), doseq=True)
    key = page_key("catalog_search", query)
    return cached_page(request, "catalog/search.jinja2", key, LISTING_TAGS, values)


def search_values(request, params, session, counts) -> dict:
    """What the search page shows for ``params``, read through ``session``."""
    currency = shop_currency(request)
    try:
        result = search.search(session, params, currency, counts=counts)
    except search.InvalidParameter as exc:
        raise HTTPBadRequest(str(exc)) from None
    return {
        "result": result,
        "params": params,
        "sorts": search.SORTS,
        "link": Links(request, "catalog_search", params),
        "price_text": {
            "min_price": search.major_units(params.min_price, currency) or "",
            "max_price": search.major_units(params.max_price, currency) or "",
        },
        "image_url": lambda image, size="thumb": present.image_url(request, image, size),
        "pictures": present.Pictures(request),
    }


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
