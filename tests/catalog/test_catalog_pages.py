"""Storefront pages and the JSON API: content, errors, accessibility, cache headers."""

import re

import pytest

SLOT_PLUGIN = "tests.catalog.slot_plugin"


@pytest.fixture
def shop(catalog):
    clothing = catalog.category("clothing", "Clothing")
    jackets = catalog.category("clothing/jackets", "Jackets")
    kitchen = catalog.category("home/kitchen", "Kitchen")
    catalog.product(
        "Waxed Jacket",
        description="Weatherproof waxed cotton.",
        category=jackets,
        variants=[
            {"sku": "WJ-S", "name": "S", "options": {"size": "S"}, "price": 18900, "stock": 0},
            {"sku": "WJ-M", "name": "M", "options": {"size": "M"}, "price": 18900, "stock": 3},
            {"sku": "WJ-XL", "name": "XL", "options": {"size": "XL"}, "price": 19400, "stock": 20},
            {"sku": "WJ-OLD", "name": "XXL", "price": 19400, "stock": 5, "active": False},
        ],
    )
    catalog.product("Cast Iron Skillet", 4500, stock=0, category=kitchen)
    catalog.product("Hidden Thing", 100, category=kitchen, active=False)
    return {"clothing": clothing, "jackets": jackets, "kitchen": kitchen}


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.headers["Cache-Control"].split(",")}


def check_accessible(page):
    """What every storefront page must have for screen readers and keyboards."""
    html = page.html
    assert html.find("html")["lang"]
    assert html.find("main") is not None
    assert len(html.find_all("h1")) == 1
    for img in html.find_all("img"):
        assert img.has_attr("alt"), img
    for field in html.find_all(["input", "select", "textarea"]):
        if field.get("type") in ("hidden", "submit"):
            continue
        assert field.get("aria-label") or html.find("label", attrs={"for": field.get("id")}), field
    # No external asset: everything comes from the shop itself (a canonical link is an
    # address for search engines, not an asset).
    for tag in html.find_all(["script", "link", "img"]):
        if tag.get("rel") == ["canonical"]:
            continue
        url = tag.get("src") or tag.get("href") or ""
        assert not re.match(r"^(https?:)?//", url), url
    assert not html.find_all(style=True)
    # No inline code: JSON-LD is data, which the CSP does not run.
    scripts = html.find_all("script")
    assert all(s.get("src") for s in scripts if s.get("type") != "application/ld+json")


def test_home_replaces_the_kernel_placeholder(app, shop):
    page = app.get("/")
    assert "Enable plugins" not in page.text
    tiles = [a.find(class_="tile-name").text for a in page.html.select(".category-tiles a")]
    assert tiles == ["Clothing", "Home"]
    assert [a.text.strip() for a in page.html.select(".product-name")] == [
        "Cast Iron Skillet",
        "Waxed Jacket",
    ]
    check_accessible(page)


def test_every_page_has_category_links_and_a_search_form(app, shop):
    page = app.get("/p/waxed-jacket")
    nav = page.html.find("nav", attrs={"aria-label": "Categories"})
    assert [(a.text, a["href"]) for a in nav.find_all("a")] == [
        ("Clothing", "/c/clothing"),
        ("Home", "/c/home"),
    ]
    form = page.html.find("form", attrs={"role": "search"})
    assert form["action"] == "/search"
    assert page.html.find("label", attrs={"for": "catalog-q"}).text == "Search products"


def test_category_page_lists_products_of_subcategories(app, shop):
    page = app.get("/c/clothing")
    assert page.html.find("h1").text == "Clothing"
    assert [a.text for a in page.html.select("nav[aria-label=Subcategories] a")] == ["Jackets"]
    assert [a.text.strip() for a in page.html.select(".product-name")] == ["Waxed Jacket"]
    assert "€189.00" in page.text
    check_accessible(page)


def test_category_page_has_breadcrumbs_and_sorting(app, shop):
    page = app.get("/c/jackets", {"sort": "price_desc"})
    crumbs = page.html.find("nav", attrs={"aria-label": "Breadcrumb"})
    assert [li.text.strip() for li in crumbs.find_all("li")] == ["Home", "Clothing", "Jackets"]
    assert page.html.find("option", selected=True)["value"] == "price_desc"


def test_category_pagination(make_test_app, app_settings, catalog):
    kitchen = catalog.category("kitchen")
    for n in range(5):
        catalog.product(f"Bowl {n}", category=kitchen)
    settings = {**app_settings, "mercato.catalog.page_size": "2"}
    plugins = settings.pop("mercato.plugins").split()
    app = make_test_app(plugins=plugins, **settings)
    page = app.get("/c/kitchen")
    assert [a.text.strip() for a in page.html.select(".product-name")] == ["Bowl 4", "Bowl 3"]
    assert page.html.find("a", rel="next")["href"] == "/c/kitchen?sort=newest&page=2"
    last = app.get("/c/kitchen", {"page": "3"})
    assert [a.text.strip() for a in last.html.select(".product-name")] == ["Bowl 0"]
    assert "Page 3 of 3" in last.text
    assert "There is no page 7" in app.get("/c/kitchen", {"page": "7"}).text


def test_unknown_category_and_bad_paging_are_plain_errors(app, shop):
    page = app.get("/c/no-such-category", status=404)
    assert "We could not find that page" in page.text
    page = app.get("/c/clothing", {"page": "two"}, status=400)
    assert "The page number must be a whole number" in page.text
    assert "Traceback" not in page.text


def test_product_page_shows_price_stock_and_options(app, shop):
    page = app.get("/p/waxed-jacket")
    assert page.html.find("h1").text == "Waxed Jacket"
    # The first variant in stock is chosen: M, with 3 left.
    assert page.html.select_one(".price.big").text == "€189.00"
    assert page.html.select_one(".stock").text == "Only 3 left"
    options = [o.text for o in page.html.select("select#variant option")]
    assert options == ["S — €189.00 (sold out)", "M — €189.00", "XL — €194.00"]
    assert "XXL" not in page.text
    assert "Weatherproof waxed cotton." in page.text
    check_accessible(page)


def test_choosing_a_variant(app, shop):
    page = app.get("/p/waxed-jacket", {"variant": "WJ-XL"})
    assert page.html.select_one(".price.big").text == "€194.00"
    assert page.html.select_one(".stock").text == "In stock"
    page = app.get("/p/waxed-jacket", {"variant": "WJ-S"})
    assert page.html.select_one(".stock").text == "Sold out"


def test_a_stale_variant_link_lands_on_the_product(app, shop):
    response = app.get("/p/waxed-jacket", {"variant": "WJ-OLD"}, status=302)
    assert response.location.endswith("/p/waxed-jacket")


def test_unknown_and_withdrawn_products_are_not_found(app, shop):
    assert "We could not find" in app.get("/p/nope", status=404).text
    app.get("/p/hidden-thing", status=404)


def test_other_plugins_add_the_buy_button_through_a_slot(make_test_app, shop):
    app = make_test_app(plugins=["catalog", SLOT_PLUGIN])
    page = app.get("/p/waxed-jacket", {"variant": "WJ-S"})
    form = page.html.select_one(".product-actions form")
    assert form.find("input", attrs={"name": "sku"})["value"] == "WJ-S"
    assert form.find("button").has_attr("disabled")
    assert form.find("button")["data-product"] == "waxed-jacket"


def test_guest_pages_are_publicly_cacheable_with_an_etag(app, shop):
    for url in ("/", "/c/clothing", "/p/waxed-jacket", "/search?q=jacket", "/api/products"):
        response = app.get(url)
        assert cache_control(response) == {"public", "max-age=60"}, url
        assert "Set-Cookie" not in response.headers, url
        etag = response.headers["ETag"]
        again = app.get(url, headers={"If-None-Match": etag}, status=304)
        assert again.body == b""


def test_pages_with_a_session_are_private(make_test_app, shop):
    app = make_test_app(plugins=["catalog", SLOT_PLUGIN])
    first = app.get("/p/waxed-jacket")
    # The buy button's CSRF token started a session: the page is this shopper's own.
    assert "Set-Cookie" in first.headers
    assert cache_control(first) == {"private", "no-cache"}
    later = app.get("/")
    assert cache_control(later) == {"private", "no-cache"}
    assert later.headers["Vary"] == "Cookie"
    app.get("/", headers={"If-None-Match": later.headers["ETag"]}, status=304)


def test_errors_are_never_cached(app, shop):
    response = app.get("/p/nope", status=404)
    assert "public" not in response.headers.get("Cache-Control", "")


def test_head_requests_work(app, shop):
    assert app.head("/p/waxed-jacket").status_int == 200


def test_api_product_list(app, shop):
    body = app.get("/api/products", {"category": "clothing"}).json
    assert body["total"] == 1
    (item,) = body["items"]
    assert item == {
        "slug": "waxed-jacket",
        "name": "Waxed Jacket",
        "price_from": {"amount": 18900, "currency": "EUR"},
        "in_stock": True,
        "image": None,
        "url": "/p/waxed-jacket",
    }
    assert app.get("/api/products", {"q": "ignored"}).json["total"] == 2


def test_api_product_detail(app, shop):
    body = app.get("/api/products/waxed-jacket").json
    assert body["name"] == "Waxed Jacket"
    assert body["categories"] == [
        {"slug": "jackets", "name": "Jackets", "path": "clothing/jackets"}
    ]
    assert [(v["sku"], v["price"]["amount"], v["stock_state"]) for v in body["variants"]] == [
        ("WJ-S", 18900, "sold_out"),
        ("WJ-M", 18900, "low"),
        ("WJ-XL", 19400, "in_stock"),
    ]


def test_api_errors_are_json(app, shop):
    response = app.get("/api/products/nope", status=404)
    assert response.json["error"]["status"] == 404
    response = app.get("/api/products", {"page": "-1"}, status=400)
    assert "page number" in response.json["error"]["message"]
    app.get("/api/products/hidden-thing", status=404)


def test_api_categories_tree(app, shop):
    tree = app.get("/api/categories").json["categories"]
    assert [(n["slug"], [c["slug"] for c in n["children"]]) for n in tree] == [
        ("clothing", ["jackets"]),
        ("home", ["kitchen"]),
    ]


def test_writing_to_read_only_endpoints_is_refused(app, shop):
    response = app.post("/api/products", status=405)
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.json["error"]["status"] == 405
    assert "not accepted here" in app.delete("/p/waxed-jacket", status=405).text


def test_media_route_refuses_odd_keys(app):
    app.get("/media/catalog/../../etc/passwd", status=404)
    app.get("/media/catalog/products/1/x/thumb.exe", status=404)
    app.get("/media/catalog/products/1/missing/thumb.webp", status=404)


@pytest.mark.parametrize(
    "path",
    [
        "/p/%00",
        "/p/" + "x" * 5000,
        "/p/'%20OR%201=1--",
        "/c/%00",
        "/c/%E2%80%AE",
        "/api/products/%00",
        "/media/catalog/%00",
        "/p/waxed-jacket?variant=%00",
        "/p/waxed-jacket?variant=%ff",
        "/c/clothing?sort=%00",
        "/c/clothing?page=%F0%9F%98%80",
        "/api/products?per_page=%00",
        "/api/products?per_page=99999999999999999999",
        "/api/search?min_price=1e309",
        "/api/search?min_price=NaN",
        "/api/search?max_price=Infinity",
    ],
)
def test_odd_addresses_get_a_4xx_never_a_500(app, shop, path):
    response = app.get(path, expect_errors=True)
    assert response.status_int in (302, 400, 404), (path, response.status)
    assert "Traceback" not in response.text
