"""The storefront on a phone (390 px) and a laptop (1280 px), in Chromium, in the shop as
``mercato demo`` composes it with its sample data: no page is wider than the screen,
axe-core finds no accessibility violation, the header's menu opens without a script,
the cart speaks of products by their names, the favicon is served.

Screenshots of every page at both widths go to test-artifacts/layout/."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import ARTIFACTS, CATEGORY, PRODUCT

WIDTHS = (390, 1280)
# Between the two, and the narrowest phones: the header must fit at every width.
OTHER_WIDTHS = (360, 600, 768, 960, 1024, 1440)
SHOTS = ARTIFACTS / "layout"
AXE = Axe()


def add_a_tshirt(page, shop: str) -> None:
    page.goto(shop + PRODUCT)
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url("**/cart")


def fill_the_address(page) -> None:
    page.fill("#f-email", "ada@example.com")
    page.fill("#f-name", "Ada Lovelace")
    page.fill("#f-line1", "1 Analytical Row")
    page.fill("#f-postal_code", "75001")
    page.fill("#f-city", "Paris")
    page.select_option("#f-country", "FR")


def visit_every_page(page, shop: str):
    """Yield (name, page) on home, a category, a product, the cart and each checkout
    step, as a shopper reaches them."""
    for name, path in (("home", "/"), ("category", CATEGORY), ("product", PRODUCT)):
        page.goto(shop + path)
        yield name
    add_a_tshirt(page, shop)
    yield "cart"
    page.goto(shop + "/checkout")
    yield "address"
    fill_the_address(page)
    page.get_by_role("button", name="Continue to shipping").click()
    page.wait_for_url("**/checkout/shipping")
    yield "shipping"
    page.get_by_label("Standard").check()
    page.get_by_role("button", name="Continue to review").click()
    page.wait_for_url("**/checkout/review")
    yield "review"
    page.get_by_role("link", name="Continue to payment").click()
    page.wait_for_url("**/checkout/payment")
    # The card form is Stripe.js's (localstripe's here): measured once it is drawn.
    page.locator("#stripe-card-element input").first.wait_for()
    yield "payment"


def overflow(page) -> int:
    """How many pixels the page is wider than the window (0: it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_no_page_is_wider_than_the_screen(sample_shop, page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    too_wide = {}
    names = []
    for name in visit_every_page(page, sample_shop):
        names.append(name)
        for width in WIDTHS + OTHER_WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            if overflow(page) > 0:
                too_wide[f"{name} at {width} px"] = overflow(page)
            if width in WIDTHS:
                page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
    assert names == [
        "home",
        "category",
        "product",
        "cart",
        "address",
        "shipping",
        "review",
        "payment",
    ]
    assert too_wide == {}, "pixels of horizontal overflow"


@pytest.mark.parametrize("width", WIDTHS)
def test_axe_finds_no_violation_on_any_page(sample_shop, page, width):
    page.set_viewport_size({"width": width, "height": 900})
    found = {}
    for name in visit_every_page(page, sample_shop):
        results = AXE.run(page)
        if results.violations_count:
            found[name] = [
                (v["id"], [node["target"] for node in v["nodes"]])
                for v in results.response["violations"]
            ]
    assert found == {}, "axe-core violations: (rule, elements) per page"


def test_the_menu_opens_without_a_script_on_a_phone(sample_shop, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    page.goto(sample_shop + "/")
    log_in = page.get_by_role("link", name="Log in")
    clothing = page.get_by_role("navigation", name="Categories").get_by_role(
        "link", name="Clothing"
    )
    assert not log_in.is_visible() and not clothing.is_visible()
    assert page.get_by_role("link", name=re.compile("^Cart")).is_visible()
    assert page.get_by_role("searchbox", name="Search products").is_visible()
    page.locator("label.menu-button").click()
    assert log_in.is_visible() and clothing.is_visible()
    page.screenshot(path=str(ARTIFACTS / "layout" / "menu-open-390.png"))
    clothing.click()
    page.wait_for_url("**" + CATEGORY)
    context.close()


def test_the_menu_is_a_row_of_categories_on_a_laptop(sample_shop, page):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(sample_shop + "/")
    assert not page.locator("label.menu-button").is_visible()
    links = page.get_by_role("navigation", name="Categories").get_by_role("link")
    tops = {round(box["y"]) for box in (link.bounding_box() for link in links.all())}
    assert links.count() == 5 and len(tops) == 1, "every category on one line"
    assert page.get_by_role("link", name="Create an account").is_visible()


def test_the_cart_names_products_and_keeps_the_stock_to_itself(sample_shop, page, console_errors):
    page.goto(sample_shop + PRODUCT)
    quantity = page.get_by_label("Quantity")
    assert quantity.get_attribute("max") == "99", "the cart's limit, not the stock"
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url("**/cart")
    flash = page.locator(".flash").inner_text()
    assert flash == "Added 1 × Organic Cotton T-shirt – S to your cart."
    line = page.locator(".cart-line")
    assert line.get_by_role("link").inner_text() == "Organic Cotton T-shirt – S"
    assert line.locator("small").inner_text() == "SKU OCTS001-S"
    assert page.get_by_label("Quantity of Organic Cotton T-shirt – S").get_attribute("max") == "99"

    page.get_by_label("Quantity of Organic Cotton T-shirt – S").fill("99")
    page.get_by_role("button", name="Update").click()
    refusal = page.get_by_role("alert").inner_text()
    assert re.fullmatch(r"Only \d+ of Organic Cotton T-shirt – S are available\.", refusal)
    assert console_errors.pop().endswith("status of 409 (Conflict)")


def test_favicon_is_served_and_linked(sample_shop, page):
    response = page.request.get(sample_shop + "/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"] == "image/x-icon"
    assert response.body()[:4] == b"\x00\x00\x01\x00", "an ICO file"
    assert "max-age=604800" in response.headers["cache-control"]
    page.goto(sample_shop + "/")
    icons = page.locator('link[rel="icon"]')
    assert [icons.nth(i).get_attribute("type") for i in range(icons.count())] == [
        None,
        "image/svg+xml",
    ]
    svg = page.request.get(sample_shop + icons.nth(1).get_attribute("href"))
    assert svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize("width", WIDTHS)
def test_every_account_page_has_the_account_navigation(sample_shop, page, customer_user, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(sample_shop + "/login")
    page.fill("#f-email", customer_user.email)
    page.fill("#f-password", customer_user.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
    pages = {"/account": "Profile", "/account/addresses/new": "Addresses"}
    pages["/account/password"] = "Password"
    for path, current in pages.items():
        page.goto(sample_shop + path)
        nav = page.get_by_role("navigation", name="Your account")
        links = nav.get_by_role("link")
        assert links.all_inner_texts() == ["Profile", "Addresses", "Orders", "Password"]
        assert nav.locator('[aria-current="page"]').inner_text() == current
        assert overflow(page) <= 0, path
        assert AXE.run(page).violations_count == 0, path
    page.screenshot(path=str(SHOTS / f"account-password-{width}.png"), full_page=True)
    page.get_by_role("navigation", name="Your account").get_by_role("link", name="Orders").click()
    page.wait_for_url("**/account/orders")
    assert "You have not ordered anything yet." in page.content()
