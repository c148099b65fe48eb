"""The product page comes from the page cache: no SQL, personal parts per shopper, and
never a stale page after the product, its stock or the category tree changed."""

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from mercato import Line
from mercato.ops.pagecache import TAGS_KEY
from mercato.testing import csrf_token, login
from mercato_catalog import inventory, pagetags
from mercato_catalog.models import Category, Product, Variant


@pytest.fixture
def mercato_plugins():
    return ["catalog", "cart"]


@pytest.fixture
def jacket(catalog):
    jackets = catalog.category("clothing/jackets", "Jackets")
    return catalog.product("Waxed Jacket", 18900, stock=3, sku="WJ-M", category=jackets)


@pytest.fixture
def make_session(db_engine):
    """A session of a script's own, outside any app and any request."""
    return lambda: Session(db_engine)


@pytest.fixture
def app_session(app):
    """A session of the app's own (``registry.dbsession_factory``), as a script that
    builds the app, or ``mercato shell``, gets: the catalog watches these."""
    session = app.app.registry.dbsession_factory()
    yield session
    session.close()


class Statements:
    def __init__(self, engine):
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *args: self.seen.append(args[2]))


def stock_label(page) -> str:
    return page.html.select_one(".buy-box .stock").text.strip()


def csrf_field(page) -> str:
    return page.html.select_one(".product-actions input[name=csrf_token]")["value"]


def test_a_product_page_seen_before_costs_no_sql(app, jacket):
    app.get("/c/jackets")  # the navigation's categories, kept per process for a while
    statements = Statements(app.app.registry.db_engine)
    first = app.get("/p/waxed-jacket")
    rendered = len(statements.seen)
    statements.seen.clear()

    again = app.get("/p/waxed-jacket")

    assert rendered == 2, statements.seen  # the product with its parts, the breadcrumb
    assert statements.seen == []
    assert again.text == first.text
    assert "Only 3 left" in stock_label(again)


def test_every_shopper_gets_their_own_token_cart_and_account_links(
    make_test_app, app_settings, jacket, customer_user
):
    ada = make_test_app(**app_settings)
    bob = make_test_app(**app_settings)
    ada.get("/p/waxed-jacket")  # cached from here on
    token = csrf_token(ada)
    ada.post_json(
        "/api/cart/lines", {"sku": "WJ-M", "quantity": 2}, headers={"X-CSRF-Token": token}
    )
    login(bob, customer_user.email)

    ada_page = ada.get("/p/waxed-jacket")
    bob_page = bob.get("/p/waxed-jacket")

    assert csrf_field(ada_page) == token
    assert csrf_field(bob_page) == csrf_token(bob) != token
    assert ada_page.html.select_one(".mini-cart-count").text == "2"
    assert bob_page.html.select_one(".mini-cart-count").text == "0"
    assert "Log in" in ada_page.text and "Your account" not in ada_page.text
    assert "Your account" in bob_page.text and "Log in" not in bob_page.text
    # The shared part is the same page for both.
    for part in ("nav.breadcrumbs", ".gallery", "h1", ".price", ".stock"):
        assert ada_page.html.select_one(part).decode() == bob_page.html.select_one(part).decode()


def test_a_flash_message_is_shown_once_on_a_cached_page(app, jacket):
    app.get("/p/waxed-jacket")
    token = csrf_token(app)
    app.post("/cart/add", {"sku": "WJ-M", "quantity": "1", "csrf_token": token})

    shown = app.get("/p/waxed-jacket")
    after = app.get("/p/waxed-jacket")

    assert shown.html.select(".flash")
    assert not after.html.select(".flash")


def test_a_sale_makes_the_page_show_the_new_stock(app, jacket, make_session):
    assert "Only 3 left" in stock_label(app.get("/p/waxed-jacket"))

    with make_session() as session:
        inventory.reserve(session, [Line(sku="WJ-M", quantity=3)])
        session.commit()

    page = app.get("/p/waxed-jacket")
    assert "Sold out" in stock_label(page)


def test_a_sale_leaves_other_products_cached(app, catalog, jacket, make_session):
    catalog.product("Wool Scarf", 2500, stock=7, sku="WS")
    app.get("/p/wool-scarf")
    versions_before = app.app.registry.redis.hgetall(TAGS_KEY)

    with make_session() as session:
        inventory.reserve(session, [Line(sku="WJ-M", quantity=1)])
        session.commit()

    versions_after = app.app.registry.redis.hgetall(TAGS_KEY)
    bumped = {
        field for field, value in versions_after.items() if versions_before.get(field) != value
    }
    assert bumped == {b"catalog:product:waxed-jacket"}


def test_an_aborted_sale_invalidates_nothing(app, jacket, make_session):
    app.get("/p/waxed-jacket")
    versions_before = app.app.registry.redis.hgetall(TAGS_KEY)
    with make_session() as session:
        inventory.reserve(session, [Line(sku="WJ-M", quantity=1)])
        session.rollback()

    assert app.app.registry.redis.hgetall(TAGS_KEY) == versions_before
    assert "Only 3 left" in stock_label(app.get("/p/waxed-jacket"))


def test_edits_through_the_orm_show_at_once(app, jacket, app_session):
    app.get("/p/waxed-jacket")
    product = app_session.scalar(select(Product).where(Product.slug == "waxed-jacket"))
    product.name = "Waxed Field Jacket"
    app_session.scalar(select(Variant).where(Variant.sku == "WJ-M")).price_amount = 17500
    app_session.commit()

    page = app.get("/p/waxed-jacket")
    assert page.html.h1.text == "Waxed Field Jacket"
    assert "175.00" in page.html.select_one(".price").text


def test_renaming_a_category_refreshes_the_breadcrumbs(app, jacket, app_session):
    app.get("/p/waxed-jacket")
    app_session.scalar(select(Category).where(Category.slug == "jackets")).name = "Coats"
    app_session.commit()

    assert "Coats" in app.get("/p/waxed-jacket").html.select_one("nav.breadcrumbs").text


def test_a_bulk_update_invalidates_the_whole_catalog(app, jacket, app_session):
    app.get("/p/waxed-jacket")
    app_session.execute(update(Variant).values(stock=Variant.stock + 10))
    app_session.commit()

    assert "In stock" in stock_label(app.get("/p/waxed-jacket"))


def test_each_app_watches_its_own_sessions_only(make_test_app, app_settings):
    """The catalog's change listeners sit on each app's session factory, not on every
    SQLAlchemy session of the process: two apps in one process do not share them."""
    settings = dict(app_settings)
    plugins = settings.pop("mercato.plugins").split()
    first, second = (make_test_app(plugins=plugins, **settings).app for _ in range(2))
    factories = [first.registry.dbsession_factory, second.registry.dbsession_factory]

    assert all(event.contains(f, "before_flush", pagetags._changed_objects) for f in factories)
    assert not event.contains(Session, "before_flush", pagetags._changed_objects)
    assert not event.contains(Session, "do_orm_execute", pagetags._bulk_statements)


def test_pages_stored_before_redis_lost_its_versions_are_not_served(app, jacket, dbsession):
    app.get("/p/waxed-jacket")
    app.get("/p/waxed-jacket")
    # The versions vanish (a restart, an eviction) but the page stays; then the
    # product changes through a path that bumps from zero again.
    app.app.registry.redis.delete(TAGS_KEY)
    dbsession.scalar(select(Product).where(Product.slug == "waxed-jacket")).name = "Renamed"
    dbsession.commit()

    assert app.get("/p/waxed-jacket").html.h1.text == "Renamed"


def test_without_redis_the_page_is_rendered_as_usual(app, jacket):
    registry = app.app.registry
    original = registry.page_cache.redis
    registry.page_cache.redis = type(original).from_url("redis://127.0.0.1:1/0", socket_timeout=0.2)
    try:
        page = app.get("/p/waxed-jacket", expect_errors=True)
    finally:
        registry.page_cache.redis = original

    assert page.status_int == 200
    assert page.html.h1.text == "Waxed Jacket"


def test_the_cache_can_be_turned_off(make_test_app, app_settings, jacket):
    app = make_test_app(**app_settings, **{"mercato.page_cache.max_age": "0"})
    statements = Statements(app.app.registry.db_engine)
    app.get("/p/waxed-jacket")
    statements.seen.clear()

    app.get("/p/waxed-jacket")

    assert len(statements.seen) == 2
