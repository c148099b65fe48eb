"""The catalog's hooks: pricing, permissions, settings, sample data, migrations."""

import pytest
import transaction
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session
from zope.sqlalchemy import register

from mercato import ConfigurationError, Line, Money, PricingContext, make_app, price_lines
from mercato.plugins import make_plugin_manager
from mercato.testing import base_settings
from mercato_catalog.models import Category, Product, Variant


@pytest.fixture
def hooks():
    return make_plugin_manager(["catalog"]).hook


def test_mercato_unit_price_is_the_variants_price(hooks, catalog, dbsession):
    catalog.product("Mug", sku="MUG", price=1850)
    context = PricingContext(currency="EUR", dbsession=dbsession)
    assert hooks.mercato_unit_price(sku="MUG", quantity=2, context=context) == Money(1850, "EUR")


def test_unit_price_is_none_for_what_cannot_be_sold(hooks, catalog, dbsession):
    catalog.product("Old", variants=[{"sku": "OFF", "price": 500, "active": False}])
    catalog.product("Hidden", sku="HIDDEN", active=False)
    catalog.product("Dollar", sku="USD-ONLY", currency="USD")
    context = PricingContext(currency="EUR", dbsession=dbsession)
    for sku in ("NOPE", "OFF", "HIDDEN", "USD-ONLY"):
        assert hooks.mercato_unit_price(sku=sku, quantity=1, context=context) is None, sku


def test_kernel_pricing_uses_the_catalog_price(hooks, catalog, dbsession):
    catalog.product("Mug", sku="MUG", price=1850)
    priced = price_lines(
        hooks,
        [Line("MUG", 3), Line("GONE", 1)],
        PricingContext(currency="EUR", dbsession=dbsession),
    )
    assert priced.total == Money(5550, "EUR")
    assert priced.unpriced == ["GONE"]


def test_staff_and_admins_manage_the_catalog(hooks):
    assert hooks.mercato_permissions() == [{"catalog.manage": ["staff", "admin"]}]


def test_migration_folder_holds_the_catalog_branch(hooks):
    (folder,) = hooks.mercato_migration_folders()
    assert folder.endswith("migrations")


def test_search_column_and_price_from_are_kept_by_the_database(catalog, dbsession):
    product = catalog.product(
        "Waxed Jacket",
        description="Weatherproof cotton",
        variants=[{"sku": "J-M", "price": 9000}, {"sku": "J-L", "price": 9500}],
    )
    assert product.price_from == 9000
    weights = dbsession.execute(
        text("SELECT search::text FROM catalog_products WHERE id = :id"), {"id": product.id}
    ).scalar()
    assert "'jacket':2A" in weights and "'weatherproof':3B" in weights

    dbsession.execute(text("UPDATE catalog_variants SET price_amount = 8000 WHERE sku = 'J-L'"))
    dbsession.commit()
    assert dbsession.get(Product, product.id, populate_existing=True).price_from == 8000

    dbsession.execute(text("UPDATE catalog_variants SET active = false WHERE sku = 'J-L'"))
    dbsession.commit()
    assert dbsession.get(Product, product.id, populate_existing=True).price_from == 9000

    dbsession.execute(text("DELETE FROM catalog_variants"))
    dbsession.commit()
    assert dbsession.get(Product, product.id, populate_existing=True).price_from is None


def test_the_search_index_and_trigram_index_exist(db_engine):
    with db_engine.connect() as conn:
        indexes = dict(
            conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes "
                    "WHERE tablename IN ('catalog_products', 'catalog_search_words')"
                )
            ).all()
        )
    assert "USING gin (search)" in indexes["ix_catalog_products_search"]
    # Typos are looked up among the names' words (search._close_words).
    assert "gin_trgm_ops" in indexes["ix_catalog_search_words_word_trgm"]


def test_mercato_sample_data_makes_a_demo_catalog_once(hooks, db_engine, dbsession):
    messages = []
    for _ in range(2):
        manager = transaction.TransactionManager(explicit=True)
        session = Session(db_engine)
        register(session, transaction_manager=manager)
        with manager:
            hooks.mercato_sample_data(
                dbsession=session,
                settings={"mercato.currency": "EUR"},
                progress=messages.append,
            )
        session.close()

    products = dbsession.execute(select(func.count()).select_from(Product)).scalar()
    assert 35 <= products <= 50
    assert dbsession.execute(select(func.count()).select_from(Category)).scalar() >= 8
    currencies = set(dbsession.execute(select(Variant.price_currency).distinct()).scalars())
    assert currencies == {"EUR"}
    assert messages[-1] == "catalog: products already there, sample data skipped"
    unpriced = dbsession.execute(select(Product).where(Product.price_from.is_(None))).all()
    assert unpriced == []


def _settings(migrated_database, redis_url, **catalog):
    return base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": "catalog",
            **{f"mercato.catalog.{k}": v for k, v in catalog.items()},
        }
    )


def test_a_bad_setting_stops_the_app_with_one_clear_line(migrated_database, redis_url):
    with pytest.raises(ConfigurationError) as refused:
        make_app(_settings(migrated_database, redis_url, page_size="0"), environ={})
    assert "mercato.catalog.page_size" in str(refused.value)

    with pytest.raises(ConfigurationError) as refused:
        make_app(_settings(migrated_database, redis_url, pagesize="10"), environ={})
    assert "did you mean mercato.catalog.page_size" in str(refused.value)


def test_settings_have_defaults(migrated_database, redis_url):
    app = make_app(_settings(migrated_database, redis_url), environ={})
    settings = app.registry.settings["mercato.catalog"]
    assert settings["page_size"] == 24
    assert settings["upload_max_bytes"] == 10 * 1024 * 1024
    app.registry.db_engine.dispose()
    app.registry.redis.close()


def test_mercato_sku_details_names_and_links_the_catalogs_skus(make_test_app, catalog):
    from pyramid.scripting import prepare

    from mercato import describe_skus

    catalog.product("Waxed Jacket", variants=[{"sku": "J-M", "price": 9000, "name": "Medium"}])
    catalog.product("Mug", sku="MUG", price=1850)
    app = make_test_app(plugins=["catalog"]).app
    env = prepare(registry=app.registry)
    try:
        details = describe_skus(env["request"], ["J-M", "MUG", "NOT-OURS"])
    finally:
        env["closer"]()
    assert details["J-M"].name == "Waxed Jacket – Medium"
    assert details["J-M"].url == "/p/waxed-jacket"
    assert details["MUG"].name == "Mug"
    assert "NOT-OURS" not in details


def test_price_and_stock_read_once_per_transaction_and_again_after_a_change(
    hooks, catalog, db_engine
):
    """The catalog answers a request's price and stock hooks from one read of each SKU,
    and reads again as soon as stock or a variant changes in the same session."""
    catalog.product("Mug", sku="MUG", price=1850, stock=4)
    seen = []
    event.listen(db_engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with Session(db_engine) as session:
        context = PricingContext(currency="EUR", dbsession=session)
        assert hooks.mercato_unit_price(sku="MUG", quantity=1, context=context) == Money(
            1850, "EUR"
        )
        assert hooks.mercato_stock_level(dbsession=session, sku="MUG") == 4
        reads = len(seen)

        hooks.mercato_reserve_stock(dbsession=session, lines=[Line("MUG", 3)])
        assert hooks.mercato_stock_level(dbsession=session, sku="MUG") == 1

        session.scalar(select(Variant).where(Variant.sku == "MUG")).price_amount = 1500
        assert hooks.mercato_unit_price(sku="MUG", quantity=1, context=context) == Money(
            1500, "EUR"
        )
        session.rollback()

        assert hooks.mercato_stock_level(dbsession=session, sku="MUG") == 4
    assert reads == 1
