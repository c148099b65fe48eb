"""``mercato migrate`` brings an empty database to every head, kernel and plugins."""

import secrets

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from mercato.ops import migrate
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
        assert migrate.pending(hooks, versions) == [], "every branch is at its head"
        assert migrate.pending(hooks, set()), "an empty database has revisions to apply"
        assert {"outbox_messages", "users", "orders"} <= tables
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_disabling_a_plugin_never_breaks_migrate(migrated_database, redis_url, capsys):
    """The suite's database carries every plugin's revisions; a shop that has switched
    them all off still migrates, and leaves their tables alone."""
    settings = resolve_settings(
        base_settings(**{"sqlalchemy.url": migrated_database, "redis.url": redis_url}),
        environ={},
    )
    only_kernel = make_plugin_manager([]).hook
    migrate.run(settings, only_kernel)
    migrate.run(settings, only_kernel, "current")
    assert "catalog_" in capsys.readouterr().out, "the catalog's revision is still known"
    engine = create_engine(migrated_database)
    with engine.connect() as conn:
        assert "catalog_products" in inspect(conn).get_table_names(), "its tables are kept"
    engine.dispose()


def test_models_and_migrations_describe_the_same_schema(migrated_database):
    """What the revisions built is what the models declare: no table, column, index or
    foreign key is missing on either side (alembic's autogenerate comparison)."""
    import importlib
    import pkgutil

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import mercato
    from mercato.db import metadata

    # Every kernel module that declares tables, so none is missing from the metadata.
    for module in pkgutil.walk_packages(mercato.__path__, "mercato."):
        if module.name.endswith(".models") or module.name == "mercato.outbox":
            importlib.import_module(module.name)

    for name in all_plugin_names():
        make_plugin_manager([name])  # importing a plugin registers its models
    engine = create_engine(migrated_database)
    with engine.connect() as conn:
        # Tables named test_* belong to test plugins (created by their tests, not migrated).
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: (
                    not (kind == "table" and name.startswith("test_"))
                ),
            },
        )
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []
