"""``mercato migrate`` brings an empty database to every head, kernel and plugins."""

import secrets

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from mercato import migrate
from mercato.plugins import make_plugin_manager
from mercato.settings import resolve_settings
from mercato.testing import all_plugin_names, base_settings


def test_migrations_upgrade_an_empty_database(postgres_admin_url, redis_url):
    name = f"mercato_migrate_{secrets.token_hex(4)}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        settings = resolve_settings(
            base_settings(**{"sqlalchemy.url": url, "redis.url": redis_url}), environ={}
        )
        hooks = make_plugin_manager(all_plugin_names()).hook
        migrate.run(settings, hooks)
        migrate.run(settings, hooks)  # a second run is a no-op, not an error

        engine = create_engine(url)
        with engine.connect() as conn:
            versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
            tables = set(inspect(conn).get_table_names())
        engine.dispose()
        assert "mercato_0001" in versions or any(v.startswith("mercato") for v in versions)
        script_heads = migrate.heads(hooks)
        assert versions == script_heads, "every branch is at its head"
        assert "alembic_version" in tables
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
