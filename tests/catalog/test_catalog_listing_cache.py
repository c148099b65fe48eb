"""The home and category pages come from the page cache like product pages: no SQL once
seen, personal parts per shopper, and fresh again once a product they show changes."""

import pytest
from sqlalchemy import select

from mercato import Line
from mercato.ops.pagecache import TAGS_KEY
from mercato.testing import csrf_token
from mercato_catalog import inventory
from mercato_catalog.models import Category, Product, Variant
from tests.catalog.test_catalog_page_cache import Statements


@pytest.fixture
def mercato_plugins():
    return ["catalog", "cart"]


@pytest.fixture
def jackets(catalog):
    jackets = catalog.category("clothing/jackets", "Jackets")
    catalog.product("Waxed Jacket", 18900, stock=3, sku="WJ", category=jackets)
    catalog.product("Rain Jacket", 9900, stock=8, sku="RJ", category=jackets)
    return jackets


@pytest.fixture
def app_session(app):
    session = app.app.registry.dbsession_factory()
    yield session
    session.close()


@pytest.fixture
def make_session(db_engine):
    from sqlalchemy.orm import Session

    return lambda: Session(db_engine)


def names(page) -> list[str]:
    return [a.text.strip() for a in page.html.select(".product-name")]


def sold_out(page) -> set[str]:
    return {
        card.select_one(".product-name").text.strip()
        for card in page.html.select(".product-card")
        if card.select_one(".sold-out")
    }


@pytest.mark.parametrize("path", ["/", "/c/jackets", "/c/clothing?sort=name&in_stock=1"])
def test_a_listing_seen_before_costs_no_sql(app, jackets, path):
    app.get("/p/rain-jacket")  # the navigation's categories, kept per process for a while
    statements = Statements(app.app.registry.db_engine)
    first = app.get(path)
    assert statements.seen, "rendered from the database the first time"
    statements.seen.clear()

    again = app.get(path)

    assert statements.seen == []
    assert again.text == first.text
    assert set(names(again)) == {"Waxed Jacket", "Rain Jacket"}


def test_personal_parts_are_filled_per_shopper(make_test_app, app_settings, jackets):
    settings = dict(app_settings)
    plugins = settings.pop("mercato.plugins").split()
    ada, bob = (make_test_app(plugins=plugins, **settings) for _ in range(2))
    ada.get("/c/jackets")  # cached from here on
    ada.post_json(
        "/api/cart/lines", {"sku": "WJ", "quantity": 2}, headers={"X-CSRF-Token": csrf_token(ada)}
    )
    for path in ("/", "/c/jackets"):
        assert ada.get(path).html.select_one(".mini-cart-count").text == "2"
        assert bob.get(path).html.select_one(".mini-cart-count").text == "0"


def test_editing_a_product_refreshes_every_listing(app, jackets, app_session):
    for path in ("/", "/c/jackets", "/c/clothing"):
        app.get(path)
    product = app_session.scalar(select(Product).where(Product.slug == "waxed-jacket"))
    product.name = "Waxed Field Jacket"
    app_session.scalar(select(Variant).where(Variant.sku == "RJ")).price_amount = 7500
    app_session.commit()

    for path in ("/", "/c/jackets", "/c/clothing"):
        page = app.get(path)
        assert "Waxed Field Jacket" in names(page), path
        assert "€75.00" in page.text, path


def test_renaming_a_category_refreshes_its_page(app, jackets, app_session):
    app.get("/c/jackets")
    app_session.scalar(select(Category).where(Category.slug == "jackets")).name = "Coats"
    app_session.commit()
    assert app.get("/c/jackets").html.h1.text == "Coats"


def test_a_sale_refreshes_listings_only_when_it_sells_out(app, jackets, make_session):
    app.get("/c/jackets")
    redis = app.app.registry.redis

    def sell(quantity: int) -> set[bytes]:
        before = redis.hgetall(TAGS_KEY)
        with make_session() as session:
            inventory.reserve(session, [Line(sku="WJ", quantity=quantity)])
            session.commit()
        after = redis.hgetall(TAGS_KEY)
        return {tag for tag, version in after.items() if before.get(tag) != version}

    # 3 → 2: the listing shows nothing that changed; it stays cached.
    assert sell(1) == {b"catalog:product:waxed-jacket"}
    statements = Statements(app.app.registry.db_engine)
    assert sold_out(app.get("/c/jackets")) == set()
    assert statements.seen == []

    # 2 → 0: "sold out" on every listing, and gone from "in stock only".
    assert sell(2) == {b"catalog:product:waxed-jacket", b"catalog:listings"}
    assert sold_out(app.get("/c/jackets")) == {"Waxed Jacket"}
    assert names(app.get("/c/jackets", {"in_stock": "1"})) == ["Rain Jacket"]

    # Back in stock (a cancelled order): the listings again.
    with make_session() as session:
        inventory.release(session, [Line(sku="WJ", quantity=1)])
        session.commit()
    assert sold_out(app.get("/c/jackets")) == set()
