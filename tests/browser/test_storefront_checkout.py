"""A shopper in Chromium, in the shop as ``mercato demo`` composes it: product page →
cart → address → shipping method → card typed into Stripe.js (localstripe's) → paid
order; and a card that needs 3-D Secure, confirmed in the browser. Real PostgreSQL,
Redis, localstripe and waitress; no step is simulated."""

from pathlib import Path

import pytest
from sqlalchemy import select
from webtest.http import StopableWSGIServer

from mercato import make_app
from mercato.orders.models import Order
from mercato.testing import base_settings
from mercato_catalog.models import Product, Variant
from mercato_shipping.sample import add_sample_zones
from mercato_tax import add_sample_rates
from tests.shop.conftest import demo_plugins

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CARD_OK = "4242424242424242"
CARD_3DS = "4000002500003155"


@pytest.fixture
def shop(migrated_database, redis_url, stripe_settings, localstripe, clean_stores, dbsession):
    product = Product(slug="blue-mug", name="Blue Mug", description="Enamel", active=True)
    product.variants.append(
        Variant(sku="MUG-BLUE", name="", price_amount=1250, price_currency="EUR", stock=5)
    )
    dbsession.add(product)
    add_sample_zones(dbsession, "EUR")
    add_sample_rates(dbsession)
    dbsession.commit()
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": " ".join(demo_plugins()),
            "mercato.notifications.transport": "log",
            **stripe_settings,
        }
    )
    app = make_app(settings, environ={})
    server = StopableWSGIServer.create(app, host="127.0.0.1", threads=4)
    localstripe.send_webhooks_to(f"{server.application_url}stripe/webhook")
    yield server.application_url.rstrip("/")
    server.shutdown()
    app.registry.db_engine.dispose()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        yield page
        browser.close()
        assert errors == [], "no script error and no CSP violation on any page"


def buy_one_mug(page, shop: str, card: str, expiry=("12", "34")) -> None:
    reach_payment(page, shop)
    type_card(page, card, *expiry, "123", "75001")
    page.get_by_role("button", name="Pay").click()


def reach_payment(page, shop: str) -> None:
    page.goto(f"{shop}/p/blue-mug")
    page.get_by_role("button", name="Add to cart").click()
    page.goto(f"{shop}/checkout")
    page.fill("#f-email", "ada@example.com")
    page.fill("#f-name", "Ada Lovelace")
    page.fill("#f-line1", "1 Analytical Row")
    page.fill("#f-postal_code", "75001")
    page.fill("#f-city", "Paris")
    page.select_option("#f-country", "FR")
    page.get_by_role("button", name="Continue to shipping").click()
    page.get_by_label("Standard").check()
    page.get_by_role("button", name="Continue to review").click()
    page.get_by_role("link", name="Continue to payment").click()


def type_card(page, *values: str) -> None:
    """Type into the card element's fields in order, key by key, as a shopper does."""
    fields = page.locator("#stripe-card-element input")
    fields.first.wait_for()
    assert fields.count() == len(values)
    for index, value in enumerate(values):
        fields.nth(index).click()
        fields.nth(index).press_sequentially(value)


def the_order(dbsession) -> Order:
    dbsession.expire_all()
    return dbsession.scalars(select(Order)).one()


def test_shopper_pays_with_a_card_in_the_browser(shop, page, dbsession):
    buy_one_mug(page, shop, CARD_OK)
    page.wait_for_url("**/checkout/done/**")
    assert "Thank you for your order" in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "storefront-confirmation.png"), full_page=True)

    order = the_order(dbsession)
    # 12.50 and 9.90 of shipping to France, VAT included in both.
    assert (order.status, order.total_amount, order.email) == ("paid", 2240, "ada@example.com")
    assert [line.name for line in order.lines] == ["Blue Mug"]
    stock = dbsession.scalar(select(Variant.stock).where(Variant.sku == "MUG-BLUE"))
    assert stock == 4
    page.goto(f"{shop}/cart")
    assert "Your cart is empty." in page.content()


def test_card_that_needs_3d_secure_is_confirmed_in_the_browser(shop, page, dbsession):
    buy_one_mug(page, shop, CARD_3DS)
    # localstripe's Stripe.js asks, in a modal, whether the bank confirms.
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url("**/checkout/done/**", timeout=20_000)
    assert "Thank you for your order" in page.content()
    # The return page or localstripe's webhook, whichever came first, finished the order.
    for _ in range(40):
        if the_order(dbsession).status == "paid":
            break
        page.wait_for_timeout(250)
    assert the_order(dbsession).status == "paid"


def test_card_typed_as_the_readme_says_with_a_four_digit_year_pays(shop, page, dbsession):
    # README: card 4242 4242 4242 4242, expiry 12 / 2030, any CVC.
    buy_one_mug(page, shop, "4242 4242 4242 4242", expiry=("12", "2030"))
    page.wait_for_url("**/checkout/done/**", timeout=15_000)
    assert the_order(dbsession).status == "paid"


def test_card_fields_are_labelled_and_their_placeholders_fit(shop, page):
    reach_payment(page, shop)
    page.locator("#stripe-card-element input").first.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".stripe-card").screenshot(path=str(ARTIFACTS / "storefront-card-form.png"))
    fields = page.evaluate(
        """() => Array.from(document.querySelectorAll("#stripe-card-element input"), (input) => {
            const style = getComputedStyle(input);
            const pen = document.createElement("canvas").getContext("2d");
            pen.font = style.font;
            return {
                label: input.getAttribute("aria-label"),
                placeholder: input.placeholder,
                needs: pen.measureText(input.placeholder).width,
                room: input.clientWidth - parseFloat(style.paddingLeft)
                    - parseFloat(style.paddingRight),
            };
        })"""
    )
    assert [field["label"] for field in fields] == [
        "Card number",
        "Expiry month",
        "Expiry year",
        "CVC",
        "Postcode",
    ]
    clipped = [field for field in fields if field["needs"] > field["room"]]
    assert clipped == [], "every placeholder shows whole"
