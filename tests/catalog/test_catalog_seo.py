"""Findability: meta descriptions, canonical links, Open Graph, JSON-LD, robots.txt and
sitemaps, on the catalog's real pages (real PostgreSQL and Redis, the page cache on)."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import event, update
from webtest.http import StopableWSGIServer

from mercato import ConfigurationError, make_app
from mercato.testing import base_settings
from mercato_catalog.models import Product, ProductImage, Variant

SHOP = "https://shop.example"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
LONG_TEXT = (
    'Waxed cotton, <b>"storm-proof"</b> & lined. '
    + "A jacket for every weather, made to last for years of walks and rides. " * 4
)


@pytest.fixture
def app_settings(app_settings):
    return {**app_settings, "mercato.public_url": SHOP, "mercato.catalog.sitemap_page_size": "2"}


@pytest.fixture
def jackets(catalog):
    return catalog.category("clothing/jackets", "Jackets")


@pytest.fixture
def jacket(catalog, jackets, dbsession):
    product = catalog.product(
        "Waxed Jacket",
        category=jackets,
        description=LONG_TEXT,
        variants=[
            {"sku": "WJ-M", "name": "M", "price": 18900, "stock": 3},
            {"sku": "WJ-L", "name": "L", "price": 19900, "stock": 0},
        ],
    )
    product.attributes = {"brand": "Northwind"}
    product.images.append(ProductImage(key="wj/front", extension="jpg", width=800, height=800))
    dbsession.commit()
    return product


def head(page):
    return page.html.head


def meta(page, key: str, value: str) -> list[str]:
    """The ``content`` of every ``<meta key="value">`` in the page's head."""
    return [tag["content"] for tag in head(page).find_all("meta", attrs={key: value})]


def canonical(page) -> str:
    links = head(page).select('link[rel="canonical"]')
    assert len(links) == 1, links
    return links[0]["href"]


def json_ld(page) -> dict:
    scripts = page.html.select('script[type="application/ld+json"]')
    found = [json.loads(script.string) for script in scripts]
    return {data["@type"]: data for data in found}


# -- meta description, canonical, Open Graph ---------------------------------------------


def test_every_catalog_page_has_one_description_and_one_absolute_canonical(app, jacket):
    pages = {
        "/": f"{SHOP}/",
        "/c/jackets?sort=price_asc&utm_source=news&page=1": f"{SHOP}/c/jackets",
        "/c/clothing?sort=newest&page=2&utm_campaign=x": f"{SHOP}/c/clothing?page=2",
        "/p/waxed-jacket?variant=WJ-L&utm_source=ad": f"{SHOP}/p/waxed-jacket",
        "/search?q=jacket&sort=price_asc&category=jackets&min_price=5&page=2": (
            f"{SHOP}/search?q=jacket&page=2"
        ),
    }
    for path, address in pages.items():
        page = app.get(path)
        descriptions = meta(page, "name", "description")
        assert len(descriptions) == 1, path
        assert 0 < len(descriptions[0]) <= 155, path
        assert canonical(page) == address, path
        assert meta(page, "property", "og:url") == [address], path
        assert len(meta(page, "property", "og:description")) == 1, path
        assert meta(page, "name", "twitter:card"), path


def test_a_product_description_is_trimmed_on_a_word_and_escaped(app, jacket):
    page = app.get("/p/waxed-jacket")

    (description,) = meta(page, "name", "description")
    assert description.startswith('Waxed cotton, <b>"storm-proof"</b> & lined. A jacket')
    assert description.endswith("…") and len(description) <= 155
    assert " ".join(LONG_TEXT.split()).startswith(description[:-1])  # cut between words
    raw_head = page.text.split("</head>")[0]
    assert "<b>" not in raw_head  # escaped, never markup
    assert meta(page, "property", "og:description") == [description]


def test_pages_without_a_text_of_their_own_still_describe_themselves(app, catalog):
    catalog.category("kitchen", "Kitchen")
    catalog.product("Blue Mug", category=None)

    home = app.get("/")
    mug = app.get("/p/blue-mug")
    kitchen = app.get("/c/kitchen")

    assert meta(home, "name", "description") == ["Test Shop"]
    assert meta(mug, "name", "description") == ["Blue Mug at Test Shop"]
    assert meta(kitchen, "name", "description") == ["Shop Kitchen at Test Shop."]


def test_open_graph_of_a_product_page(app, jacket):
    page = app.get("/p/waxed-jacket")

    assert meta(page, "property", "og:type") == ["product"]
    assert meta(page, "property", "og:title") == ["Waxed Jacket"]
    assert meta(page, "property", "og:image") == [f"{SHOP}/media/catalog/wj/front/large.jpg"]
    assert meta(page, "name", "twitter:card") == ["summary_large_image"]
    assert meta(app.get("/c/jackets"), "property", "og:type") == ["website"]


def test_absolute_addresses_never_come_from_the_host_header(make_test_app, app_settings, jacket):
    settings = {k: v for k, v in app_settings.items() if k != "mercato.plugins"}
    app = make_test_app(plugins=["catalog"], **settings)
    forged = {"Host": "evil.example"}

    page = app.get("/p/waxed-jacket", headers=forged)
    robots = app.get("/robots.txt", headers=forged)

    assert canonical(page) == f"{SHOP}/p/waxed-jacket"
    assert "evil.example" not in page.text
    assert f"Sitemap: {SHOP}/sitemap.xml" in robots.text


def test_without_a_public_url_addresses_are_the_requests_own(make_test_app, app_settings, jacket):
    settings = {
        k: v for k, v in app_settings.items() if k not in ("mercato.plugins", "mercato.public_url")
    }
    app = make_test_app(plugins=["catalog"], **settings)

    assert canonical(app.get("/c/jackets?page=3")) == "http://localhost/c/jackets?page=3"


# -- JSON-LD ---------------------------------------------------------------------------------


def test_product_json_ld_has_offers_prices_and_availability(app, jacket):
    data = json_ld(app.get("/p/waxed-jacket"))
    product = data["Product"]

    assert product["@context"] == "https://schema.org"
    assert product["name"] == "Waxed Jacket"
    assert product["url"] == f"{SHOP}/p/waxed-jacket"
    assert product["description"] == " ".join(LONG_TEXT.split())
    assert product["image"] == [f"{SHOP}/media/catalog/wj/front/large.jpg"]
    assert product["brand"] == {"@type": "Brand", "name": "Northwind"}
    assert "sku" not in product  # two variants: each offer has its own
    offers = {offer["sku"]: offer for offer in product["offers"]}
    assert offers["WJ-M"]["price"] == "189.00"
    assert offers["WJ-M"]["priceCurrency"] == "EUR"
    assert offers["WJ-M"]["availability"] == "https://schema.org/InStock"
    assert offers["WJ-M"]["url"] == f"{SHOP}/p/waxed-jacket?variant=WJ-M"
    assert offers["WJ-L"]["price"] == "199.00"
    assert offers["WJ-L"]["availability"] == "https://schema.org/OutOfStock"


def test_a_single_variant_product_names_its_sku(app, catalog):
    catalog.product("Yen Cup", price=1250, stock=0, sku="CUP-1", currency="JPY")

    product = json_ld(app.get("/p/yen-cup"))["Product"]

    assert product["sku"] == "CUP-1"
    assert "brand" not in product and "image" not in product
    (offer,) = product["offers"]
    assert (offer["price"], offer["priceCurrency"]) == ("1250", "JPY")
    assert offer["availability"] == "https://schema.org/OutOfStock"
    assert offer["url"] == f"{SHOP}/p/yen-cup"


def test_product_breadcrumb_runs_home_categories_product(app, jacket):
    crumbs = json_ld(app.get("/p/waxed-jacket"))["BreadcrumbList"]["itemListElement"]

    assert [(c["position"], c["name"], c["item"]) for c in crumbs] == [
        (1, "Home", f"{SHOP}/"),
        (2, "Clothing", f"{SHOP}/c/clothing"),
        (3, "Jackets", f"{SHOP}/c/jackets"),
        (4, "Waxed Jacket", f"{SHOP}/p/waxed-jacket"),
    ]


def test_a_description_cannot_close_the_json_ld_script(app, catalog):
    hostile = "</script><script>alert(1)</script><!-- & more"
    catalog.product("Trap", description=hostile)

    page = app.get("/p/trap")

    assert "<script>alert(1)" not in page.text
    assert json_ld(page)["Product"]["description"] == hostile


def test_json_ld_is_cached_with_the_page_and_goes_stale_with_it(app, jacket):
    first = app.get("/p/waxed-jacket")
    assert app.get("/p/waxed-jacket").text == first.text  # served from the page cache

    # Through a session of the app's own, as the admin or ``mercato shell`` would.
    session = app.app.registry.dbsession_factory()
    try:
        session.execute(update(Variant).where(Variant.sku == "WJ-L").values(stock=4))
        session.get(Product, jacket.id).name = "Waxed Field Jacket"
        session.commit()
    finally:
        session.close()

    product = json_ld(app.get("/p/waxed-jacket"))["Product"]
    assert product["name"] == "Waxed Field Jacket"
    offers = {offer["sku"]: offer["availability"] for offer in product["offers"]}
    assert offers["WJ-L"] == "https://schema.org/InStock"


# -- robots.txt ------------------------------------------------------------------------------


def test_robots_txt_allows_the_catalog_and_keeps_crawlers_out_of_private_pages(app):
    robots = app.get("/robots.txt")

    assert robots.content_type == "text/plain"
    lines = robots.text.splitlines()
    assert lines[:2] == ["User-agent: *", "Allow: /"]
    for path in ("/checkout", "/account", "/admin", "/api"):
        assert f"Disallow: {path}" in lines
    assert "Disallow: /cart" not in lines, "an empty cart is all a crawler sees"
    disallowed = [line.split(": ", 1)[1] for line in lines if line.startswith("Disallow:")]
    for catalog_path in ("/", "/p/waxed-jacket", "/c/jackets", "/search?q=jacket"):
        assert not any(catalog_path.startswith(path) for path in disallowed), catalog_path
    assert lines[-1] == f"Sitemap: {SHOP}/sitemap.xml"
    assert "public" in robots.headers["Cache-Control"]


# -- sitemaps --------------------------------------------------------------------------------


def five_products(catalog, jackets):
    for number in range(1, 6):
        catalog.product(f"Jacket {number}", category=jackets)
    catalog.product("Retired Jacket", category=jackets, active=False)


def locs(response, tag: str = "url") -> list[str]:
    assert response.content_type == "application/xml"
    root = ET.fromstring(response.body)  # well-formed, or this raises
    return [el.findtext("sm:loc", namespaces=NS) for el in root.findall(f"sm:{tag}", NS)]


def test_the_sitemap_index_lists_pages_of_the_configured_size(app, catalog, jackets):
    five_products(catalog, jackets)

    index = app.get("/sitemap.xml")

    assert ET.fromstring(index.body).tag == f"{{{NS['sm']}}}sitemapindex"
    assert locs(index, "sitemap") == [
        f"{SHOP}/sitemap-categories-1.xml",  # home, clothing
        f"{SHOP}/sitemap-categories-2.xml",  # jackets
        f"{SHOP}/sitemap-products-1.xml",
        f"{SHOP}/sitemap-products-2.xml",
        f"{SHOP}/sitemap-products-3.xml",
    ]
    assert "public" in index.headers["Cache-Control"] and index.headers["ETag"]


def test_sitemap_pages_hold_every_active_product_once(app, catalog, jackets):
    five_products(catalog, jackets)

    pages = [locs(app.get(f"/sitemap-products-{n}.xml")) for n in (1, 2, 3)]

    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(sum(pages, [])) == [f"{SHOP}/p/jacket-{n}" for n in range(1, 6)]
    assert app.get("/sitemap-products-4.xml", status=404)


def test_sitemap_entries_carry_their_last_change(app, catalog, jackets):
    five_products(catalog, jackets)

    root = ET.fromstring(app.get("/sitemap-products-1.xml").body)
    lastmods = [el.findtext("sm:lastmod", namespaces=NS) for el in root.findall("sm:url", NS)]
    categories = ET.fromstring(app.get("/sitemap-categories-1.xml").body)

    assert all(lastmod and lastmod.endswith("+00:00") for lastmod in lastmods)
    home, clothing = categories.findall("sm:url", NS)
    assert home.findtext("sm:loc", namespaces=NS) == f"{SHOP}/"
    assert clothing.findtext("sm:loc", namespaces=NS) == f"{SHOP}/c/clothing"
    assert clothing.find("sm:lastmod", NS) is None  # no product of its own
    (jackets_entry,) = ET.fromstring(app.get("/sitemap-categories-2.xml").body)
    assert jackets_entry.findtext("sm:lastmod", namespaces=NS) == max(lastmods)


def test_a_shop_without_products_lists_only_its_home_page(app):
    assert locs(app.get("/sitemap.xml"), "sitemap") == [f"{SHOP}/sitemap-categories-1.xml"]
    assert locs(app.get("/sitemap-categories-1.xml")) == [f"{SHOP}/"]
    app.get("/sitemap-products-1.xml", status=404)  # a sitemap may not be empty


class Statements:
    def __init__(self, engine):
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *args: self.seen.append(args[2]))

    def count(self, request) -> int:
        self.seen.clear()
        request()
        return len(self.seen)


def test_a_sitemap_page_costs_the_same_queries_for_2_or_20_products(
    make_test_app, app_settings, catalog, jackets
):
    settings = {k: v for k, v in app_settings.items() if k != "mercato.plugins"}
    settings["mercato.catalog.sitemap_page_size"] = "50"
    app = make_test_app(plugins=["catalog"], **settings)
    statements = Statements(app.app.registry.db_engine)
    costs = []
    for first, last in ((1, 2), (3, 20)):
        for number in range(first, last + 1):
            catalog.product(f"Coat {number}", category=jackets)
        assert len(locs(app.get("/sitemap-products-1.xml"))) == last
        costs.append(
            [
                statements.count(lambda: app.get("/sitemap-products-1.xml")),
                statements.count(lambda: app.get("/sitemap-categories-1.xml")),
                statements.count(lambda: app.get("/sitemap.xml")),
            ]
        )

    assert costs[0] == costs[1] == [1, 1, 1]


@pytest.mark.parametrize(
    "path",
    [
        "/sitemap-products-abc.xml",
        "/sitemap-products--1.xml",
        "/sitemap-products-0.xml",
        "/sitemap-products-01.xml",
        f"/sitemap-products-{10**30}.xml",
        "/sitemap-products-999999999.xml",
        "/sitemap-categories-%C2%B2.xml",  # a superscript two: a digit to str.isdigit
        "/sitemap-orders-1.xml",
        "/sitemap-products-1.xml/x",
    ],
)
def test_hostile_sitemap_addresses_are_404s(app, path):
    response = app.get(path, status=404)
    assert "Traceback" not in response.text


def test_sitemaps_and_robots_are_read_only(app):
    for path in ("/robots.txt", "/sitemap.xml", "/sitemap-products-1.xml"):
        response = app.post(path, status=405)
        assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("size", ["0", "50001", "many"])
def test_the_sitemap_page_size_is_checked_at_start_up(app_settings, size):
    settings = {**app_settings, "mercato.catalog.sitemap_page_size": size}
    with pytest.raises(ConfigurationError, match="sitemap_page_size"):
        make_app(base_settings(**settings), environ={})


# -- a browser: JSON-LD is data, not a script the CSP would block ----------------------------

CHROMIUM = "/usr/bin/chromium"


def test_json_ld_raises_no_csp_violation_in_chromium(app_settings, jacket):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    shop = make_app(base_settings(**app_settings), environ={})
    server = StopableWSGIServer.create(shop, host="127.0.0.1", threads=2)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            # Violations are reported as events (and console errors) even for blocked
            # content; listen before any script of the page runs.
            page.add_init_script(
                "window.__violations = [];"
                "document.addEventListener('securitypolicyviolation',"
                " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
            console = []
            page.on("console", lambda msg: console.append(msg.text))
            page.goto(f"{server.application_url}p/waxed-jacket")
            page.wait_for_load_state("load")
            violations = page.evaluate("window.__violations")
            blocks = page.evaluate(
                "[...document.querySelectorAll('script[type=\"application/ld+json\"]')]"
                ".map(s => JSON.parse(s.textContent)['@type'])"
            )
            browser.close()
    finally:
        server.shutdown()
        shop.registry.db_engine.dispose()

    assert blocks == ["Product", "BreadcrumbList"]
    assert violations == []
    assert not [text for text in console if "Content Security Policy" in text]
