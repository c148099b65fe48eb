"""Findability: what search engines and link previews read of the storefront.

* Template helpers (Jinja2 globals) for the ``<head>`` of catalog pages: a meta
  description trimmed from the product's or category's text, a canonical address,
  absolute picture addresses for Open Graph, and a product's JSON-LD (``Product`` with its
  ``Offer``s, and a ``BreadcrumbList``). Product pages come from the page cache: all of
  this is part of the cached render and goes stale with it.
* ``/robots.txt``, and ``/sitemap.xml``: a sitemap index over pages of at most
  ``sitemap_page_size`` addresses (50,000, the protocol's limit), one query each.

Absolute addresses are built on ``mercato.public_url`` when it is set, as links in
emails are: a cached page or a sitemap must not carry the host name a client sent.
"""

import json
import math
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import colander
from jinja2 import pass_context
from markupsafe import Markup
from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response
from sqlalchemy import func, select

from . import present
from .caching import cacheable
from .models import Category, Product, ProductCategory
from .views import method_not_allowed

DESCRIPTION_LENGTH = 155  # what a results page shows of a description
SITEMAP_LIMIT = 50_000  # addresses per sitemap file (sitemaps.org)
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# Paths no crawler should spend time on: personal, transactional or staff pages.
# The cart stays crawlable: a crawler only ever sees an empty cart, and a page search
# engines are told to skip costs it Lighthouse's SEO score (issue 21 wants 100 there).
ROBOTS_DISALLOW = ("/checkout", "/account", "/orders/", "/admin", "/api")
IN_STOCK = "https://schema.org/InStock"
OUT_OF_STOCK = "https://schema.org/OutOfStock"


def with_settings(schema: colander.MappingSchema) -> colander.MappingSchema:
    """The catalog's settings schema with the sitemap's own setting added."""
    schema.add(
        colander.SchemaNode(
            colander.Int(),
            name="sitemap_page_size",
            missing=SITEMAP_LIMIT,
            validator=colander.Range(1, SITEMAP_LIMIT),
            title="Addresses per sitemap file",
        )
    )
    return schema


# -- addresses ------------------------------------------------------------------------


def site_url(request) -> str:
    """The shop's address: ``mercato.public_url``, else the one this request reached."""
    public_url = request.registry.settings.get("mercato.public_url") or ""
    return public_url.rstrip("/") or request.application_url


def absolute_url(request, url: str) -> str:
    """``url`` (a path from ``route_path`` or a storage backend) made absolute."""
    if not url.startswith("/") or url.startswith("//"):
        return url  # already absolute: a storage backend's own host
    script_name = request.script_name
    if script_name and url.startswith(script_name + "/"):
        url = url[len(script_name) :]
    return site_url(request) + url


def image_address(request, image) -> str:
    """The absolute address of a picture's large rendition (Open Graph, JSON-LD)."""
    return absolute_url(request, present.image_url(request, image, "large"))


def canonical_url(request, route: str, page: int = 1, q: str = "", **kw) -> str:
    """The one address of a page: no sort, facet or tracking parameter, only the search
    words and a page number past the first."""
    query = {}
    if q:
        query["q"] = q
    if page and page > 1:
        query["page"] = page
    return request.route_url(route, _app_url=site_url(request), _query=query, **kw)


def summary(text: str | None, limit: int = DESCRIPTION_LENGTH) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def json_script(data) -> Markup:
    """``data`` as a JSON-LD script element. ``<``, ``>`` and ``&`` are written as JSON
    escapes: a product description holding ``</script>`` cannot end the element.
    A JSON-LD block is data, never executed, so the CSP's script-src does not apply."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/ld+json">{text}</script>')  # noqa: S704 (escaped)


# -- product structured data --------------------------------------------------------------


def price_text(money) -> str:
    """``12.50``: the amount in major units as schema.org wants it (never ``1.25E+1``)."""
    return format(money.decimal(), "f")


def offer(url: str, variant: dict, several: bool) -> dict:
    data = {
        "@type": "Offer",
        "sku": variant["sku"],
        "price": price_text(variant["price"]),
        "priceCurrency": variant["price"].currency,
        "availability": IN_STOCK if variant["available"] else OUT_OF_STOCK,
        "url": url,
    }
    if several:
        data["name"] = variant["name"]
        data["url"] = f"{url}?{urlencode({'variant': variant['sku']})}"
    return data


def product_data(request, product, variants: list[dict]) -> dict:
    """schema.org ``Product`` of a product page (``variants`` as ``present.variant_info``)."""
    url = canonical_url(request, "catalog_product", slug=product.slug)
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "url": url,
    }
    description = " ".join((product.description or "").split())
    if description:
        data["description"] = description
    images = [image_address(request, image) for image in product.images]
    if images:
        data["image"] = images
    if len(variants) == 1:
        data["sku"] = variants[0]["sku"]
    brand = (product.attributes or {}).get("brand")
    if isinstance(brand, str) and brand.strip():
        data["brand"] = {"@type": "Brand", "name": brand.strip()}
    if variants:
        several = len(variants) > 1
        data["offers"] = [offer(url, variant, several) for variant in variants]
    return data


def breadcrumb_data(request, trail, product) -> dict:
    """schema.org ``BreadcrumbList``: home › each category of ``trail`` › the product."""
    items = [("Home", request.route_url("home", _app_url=site_url(request)))]
    items += [(c.name, canonical_url(request, "catalog_category", slug=c.slug)) for c in trail]
    items.append((product.name, canonical_url(request, "catalog_product", slug=product.slug)))
    return {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": position, "name": name, "item": url}
            for position, (name, url) in enumerate(items, start=1)
        ],
    }


# -- template helpers ------------------------------------------------------------------


@pass_context
def seo_canonical(context, route: str, **kw) -> str:
    """``{{ seo_canonical("catalog_category", slug=..., page=...) }}``"""
    return canonical_url(context["request"], route, **kw)


@pass_context
def seo_image(context, image) -> str:
    """``{{ seo_image(product.images[0]) }}``: the large picture's absolute address."""
    return image_address(context["request"], image)


@pass_context
def seo_product_json_ld(context, product, variants, trail) -> Markup:
    """The product page's JSON-LD: its ``Product`` and its ``BreadcrumbList``."""
    request = context["request"]
    return json_script(product_data(request, product, variants)) + json_script(
        breadcrumb_data(request, trail, product)
    )


TEMPLATE_GLOBALS = {
    "seo_description": summary,
    "seo_canonical": seo_canonical,
    "seo_image": seo_image,
    "seo_product_json_ld": seo_product_json_ld,
}


# -- robots.txt and sitemaps ------------------------------------------------------------


def text_response(request, body: str, content_type: str) -> Response:
    response = Response(body.encode(), content_type=content_type, charset="utf-8")
    return cacheable(request, response)


def robots_view(request):
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Disallow: {path}" for path in ROBOTS_DISALLOW]
    lines += ["", f"Sitemap: {absolute_url(request, request.route_path('catalog_sitemap'))}"]
    return text_response(request, "\n".join(lines) + "\n", "text/plain")


def page_size(request) -> int:
    return request.registry.settings["mercato.catalog"]["sitemap_page_size"]


def xml_document(root: str, entries) -> str:
    """A sitemap (``urlset``) or sitemap index (``sitemapindex``) of ``(loc, lastmod)``."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<{root} xmlns="{SITEMAP_NS}">\n']
    tag = "sitemap" if root == "sitemapindex" else "url"
    for loc, lastmod in entries:
        lastmod = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
        parts.append(f"<{tag}><loc>{escape(loc)}</loc>{lastmod}</{tag}>\n")
    parts.append(f"</{root}>\n")
    return "".join(parts)


def w3c_datetime(column):
    """``column`` (a timestamptz) as a sitemap's ``lastmod``, formatted by PostgreSQL:
    50,000 datetimes made and formatted in Python cost a third of a page's time."""
    return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')


def sitemap_index_view(request):
    """Which sitemap pages exist: the home page and categories, then the products."""
    active_products = select(func.count()).where(Product.active).scalar_subquery()
    categories = select(func.count(Category.id)).scalar_subquery()
    product_count, category_count = request.read_dbsession.execute(
        select(active_products, categories)
    ).one()
    size = page_size(request)
    pages = {
        "categories": math.ceil((1 + category_count) / size),  # the home page comes first
        "products": math.ceil(product_count / size),
    }
    entries = [
        (absolute_url(request, request.route_path("catalog_sitemap_page", kind=kind, page=n)), None)
        for kind, count in pages.items()
        for n in range(1, count + 1)
    ]
    return text_response(request, xml_document("sitemapindex", entries), "application/xml")


def page_number(text: str) -> int:
    """A sitemap page's number, or a 404 for what is none (``abc``, ``-1``, ``10**30``)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 9 and text[0] != "0"):
        raise HTTPNotFound()
    return int(text)


def slug_prefix(request, route: str) -> str:
    """The canonical address of ``route`` up to its ``{slug}``, built once per sitemap
    page: ``route_url`` for each of 50,000 addresses cost most of the page's time. Every
    way in checks a slug against ``services.SLUG``: it needs no quoting."""
    return canonical_url(request, route, slug="0")[:-1]


def category_entries(request, page: int, size: int) -> list:
    """The home page (first of all) and the categories, each with its newest product's
    last change: one query."""
    offset, limit = (0, size - 1) if page == 1 else ((page - 1) * size - 1, size)
    newest = (
        select(w3c_datetime(func.max(Product.updated_at)))
        .join(ProductCategory, ProductCategory.product_id == Product.id)
        .where(ProductCategory.category_id == Category.id, Product.active)
        .scalar_subquery()
    )
    rows = request.read_dbsession.execute(
        select(Category.slug, newest).order_by(Category.path).offset(offset).limit(limit)
    ).all()
    prefix = slug_prefix(request, "catalog_category")
    entries = [(prefix + slug, lastmod) for slug, lastmod in rows]
    if page == 1:
        entries.insert(0, (canonical_url(request, "home"), None))
    return entries


def product_entries(request, page: int, size: int) -> list:
    """One page of the active products, oldest first, so that a product keeps its page:
    one query, along the narrow index of active products."""
    # Through the session's connection: plain rows, without the ORM's bookkeeping for
    # 50,000 of them (a third of the page's time).
    rows = (
        request.read_dbsession.connection()
        .execute(
            select(Product.slug, w3c_datetime(Product.updated_at))
            .where(Product.active)
            .order_by(Product.id)
            .offset((page - 1) * size)
            .limit(size)
        )
        .all()
    )
    prefix = slug_prefix(request, "catalog_product")
    return [(prefix + slug, lastmod) for slug, lastmod in rows]


SITEMAP_KINDS = {"categories": category_entries, "products": product_entries}


def sitemap_page_view(request):
    page = page_number(request.matchdict["page"])
    entries = SITEMAP_KINDS[request.matchdict["kind"]](request, page, page_size(request))
    if not entries:
        raise HTTPNotFound()  # past the last page (a sitemap may not be empty)
    return text_response(request, xml_document("urlset", entries), "application/xml")


def includeme(config):
    config.add_route("catalog_robots", "/robots.txt")
    config.add_route("catalog_sitemap", "/sitemap.xml")
    # At the root: a sitemap may only list addresses below its own folder.
    config.add_route("catalog_sitemap_page", "/sitemap-{kind:categories|products}-{page}.xml")
    views = {
        "catalog_robots": robots_view,
        "catalog_sitemap": sitemap_index_view,
        "catalog_sitemap_page": sitemap_page_view,
    }
    for route, view in views.items():
        config.add_view(view, route_name=route, request_method=("GET", "HEAD"))
        config.add_view(
            method_not_allowed,
            route_name=route,
            request_method=("POST", "PUT", "PATCH", "DELETE"),
            require_csrf=False,
        )

    def register_globals():
        config.get_jinja2_environment().globals.update(TEMPLATE_GLOBALS)

    # After pyramid_jinja2 has made the environment (mercato.templating does the same).
    config.action(None, register_globals, order=999)
