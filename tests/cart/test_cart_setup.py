"""How the cart plugs into a shop: its settings, its tables, its entry point."""

import pytest
from sqlalchemy import inspect, text

from mercato import ConfigurationError, make_app
from mercato.plugins import discover
from mercato.testing import base_settings
from mercato_cart import schemas


def test_cart_is_an_installed_plugin():
    assert discover()["cart"].value == "mercato_cart.hooks"


def test_mercato_settings_schema_gives_defaults():
    assert schemas.Settings().deserialize({}) == {
        "idle_days": 30,
        "max_per_line": 99,
        "max_lines": 100,
        "catalog_cache_seconds": 60.0,
    }


@pytest.mark.parametrize(
    ("key", "value"), [("max_per_line", "0"), ("idle_days", "soon"), ("max_lines", "-1")]
)
def test_mercato_settings_schema_refuses_a_bad_value_in_one_line(
    migrated_database, redis_url, key, value
):
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": "cart",
            f"mercato.cart.{key}": value,
        }
    )
    with pytest.raises(ConfigurationError) as refused:
        make_app(settings, environ={})
    message = str(refused.value)
    assert f"mercato.cart.{key}" in message and "\n" not in message


def test_mercato_migration_folders_brings_the_cart_branch(db_engine):
    with db_engine.connect() as conn:
        versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        columns = {c["name"] for c in inspect(conn).get_columns("cart_backups")}
    assert any(version.startswith("cart_") for version in versions), "the cart branch ran"
    assert columns == {"cart_id", "version", "lines", "updated_at"}
