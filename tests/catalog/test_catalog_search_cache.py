"""The search page comes from the page cache like the listings: a search asked before
costs no SQL, every shopper gets their own personal parts, and any change to the
products it shows (a name, a price, a sell-out, a new product and its category count)
shows at once, not after a per-process memory runs out."""

import threading

import pytest
from sqlalchemy import event, select

from mercato import Line
from mercato.testing import csrf_token
from mercato_catalog import inventory
from mercato_catalog.models import Category, Product, Variant
from tests.catalog.test_catalog_listing_cache import names, sold_out
from tests.catalog.test_catalog_page_cache import Statements


class RequestStatements(Statements):
    """The statements this thread (the requests') sends: the cart writes its PostgreSQL
    copy from a thread of its own, within a second of an add, whenever it runs."""

    def __init__(self, engine):
        self.seen: list[str] = []
        thread = threading.get_ident()

        def seen(*args):
            if threading.get_ident() == thread:
                self.seen.append(args[2])

        event.listen(engine, "before_cursor_execute", seen)


@pytest.fixture
def mercato_plugins():
    return ["catalog", "cart"]


@pytest.fixture
def jackets(catalog):
    jackets = catalog.category("clothing/jackets", "Jackets")
    catalog.product("Waxed Jacket", 18900, stock=3, sku="WJ", category=jackets)
    catalog.product("Rain Jacket", 9900, stock=8, sku="RJ", category=jackets)
    catalog.category("outdoor/camping", "Camping")
    return jackets


@pytest.fixture
def app_session(app):
    # The app's own sessions are the ones the catalog watches (``pagetags.listen``).
    session = app.app.registry.dbsession_factory()
    yield session
    session.close()


def facets(page) -> dict[str, str]:
    found = {}
    for item in page.html.select(".facets li"):
        link = item.select_one("a") or item.select_one("strong")
        count = item.text.rsplit("(", 1)[-1].rstrip(") \n")
        found[link.text.strip()] = count
    return found


def test_a_search_seen_before_costs_no_sql(app, jackets):
    app.get("/p/rain-jacket")  # the navigation's categories, kept per process for a while
    statements = Statements(app.app.registry.db_engine)
    first = app.get("/search", {"q": "jacket"})
    assert statements.seen, "rendered from the database the first time"
    statements.seen.clear()

    again = app.get("/search", {"q": "jacket"})
    # The same search however the address spells it: one page in the cache.
    spelled = app.get("/search?page=1&sort=relevance&q=jacket&min_price=")

    assert statements.seen == []
    assert again.text == first.text == spelled.text
    assert set(names(again)) == {"Waxed Jacket", "Rain Jacket"}


def test_other_searches_filters_sorts_and_pages_are_pages_of_their_own(app, jackets):
    expected = {
        (("q", "jacket"),): {"Waxed Jacket", "Rain Jacket"},
        (("q", "rain"),): {"Rain Jacket"},
        (("q", "jacket"), ("max_price", "100")): {"Rain Jacket"},
        (("q", "jacket"), ("category", "jackets")): {"Waxed Jacket", "Rain Jacket"},
        (("q", "jacket"), ("page", "2")): set(),
        (("q", "jaket"),): {"Waxed Jacket", "Rain Jacket"},  # a typo's close matches
    }
    ordered = {
        "price_asc": ["Rain Jacket", "Waxed Jacket"],
        "price_desc": ["Waxed Jacket", "Rain Jacket"],
    }
    for query in expected:
        app.get("/search", dict(query))
    for sort in ordered:
        app.get("/search", {"q": "jacket", "sort": sort})
    statements = Statements(app.app.registry.db_engine)

    for query, found in expected.items():
        assert set(names(app.get("/search", dict(query)))) == found, query
    for sort, found in ordered.items():
        assert names(app.get("/search", {"q": "jacket", "sort": sort})) == found, sort
    assert statements.seen == []


def cached(app, path: str, query: dict):
    """The page for ``path``, asked twice: the second answer must cost no SQL."""
    app.get(path, query)
    statements = Statements(app.app.registry.db_engine)
    page = app.get(path, query)
    assert statements.seen == []
    return page


def test_every_shopper_gets_their_own_cart_and_search_box(make_test_app, app_settings, jackets):
    settings = dict(app_settings)
    plugins = settings.pop("mercato.plugins").split()
    ada, bob = (make_test_app(plugins=plugins, **settings) for _ in range(2))
    ada.get("/search", {"q": "jacket"})  # cached from here on
    ada.post_json(
        "/api/cart/lines", {"sku": "WJ", "quantity": 2}, headers={"X-CSRF-Token": csrf_token(ada)}
    )
    statements = RequestStatements(ada.app.registry.db_engine)

    ada_page = ada.get("/search", {"q": "jacket"})
    bob_page = bob.get("/search", {"q": "jacket"})

    assert statements.seen == []
    assert ada_page.html.select_one(".mini-cart-count").text == "2"
    assert bob_page.html.select_one(".mini-cart-count").text == "0"
    for page in (ada_page, bob_page):
        assert page.html.select_one("input[name=q]")["value"] == "jacket"


def test_editing_a_product_shows_in_search_at_once(app, jackets, app_session):
    cached(app, "/search", {"q": "jacket"})
    product = app_session.scalar(select(Product).where(Product.slug == "waxed-jacket"))
    product.name = "Waxed Field Jacket"
    app_session.scalar(select(Variant).where(Variant.sku == "RJ")).price_amount = 7500
    app_session.commit()

    page = app.get("/search", {"q": "jacket"})

    assert set(names(page)) == {"Waxed Field Jacket", "Rain Jacket"}
    assert "€75.00" in page.text


def test_a_sell_out_shows_in_search_at_once(app, jackets, db_engine):
    from sqlalchemy.orm import Session

    assert sold_out(cached(app, "/search", {"q": "jacket"})) == set()
    with Session(db_engine) as session:
        inventory.reserve(session, [Line(sku="WJ", quantity=3)])
        session.commit()

    assert sold_out(app.get("/search", {"q": "jacket"})) == {"Waxed Jacket"}


def test_a_new_product_shows_with_its_category_count_at_once(app, jackets, app_session):
    """The categories of a query's matches were kept 30 s per process: a page rendered
    after a change would have been stored, as fresh, with the old counts."""
    page = app.get("/search", {"q": "jacket"})
    assert facets(page) == {"Jackets": "2"}
    camping = app_session.scalar(select(Category).where(Category.slug == "camping"))
    product = Product(slug="camp-jacket", name="Camp Jacket", description="", active=True)
    product.categories.append(camping)
    product.variants.append(
        Variant(sku="CJ", name="", options={}, price_amount=5000, price_currency="EUR", stock=4)
    )
    app_session.add(product)
    app_session.commit()

    page = app.get("/search", {"q": "jacket"})

    assert set(names(page)) == {"Waxed Jacket", "Rain Jacket", "Camp Jacket"}
    assert facets(page) == {"Jackets": "2", "Camping": "1"}
    assert "3 products" in page.text


def test_a_new_product_shows_in_its_category_page_count_at_once(app, jackets, app_session):
    """The category page is stored in the page cache too: it counts its products when it
    is rendered, not from the process's counts kept 30 s, which it would store as fresh
    and show until the next change."""
    assert "2 products" in app.get("/c/jackets").text
    product = Product(slug="storm-jacket", name="Storm Jacket", description="", active=True)
    product.categories.append(app_session.get(Category, jackets.id))
    product.variants.append(
        Variant(sku="SJ", name="", options={}, price_amount=7000, price_currency="EUR", stock=2)
    )
    app_session.add(product)
    app_session.commit()

    page = app.get("/c/jackets")

    assert set(names(page)) == {"Waxed Jacket", "Rain Jacket", "Storm Jacket"}
    assert "3 products" in page.text
