"""The package is a Mercato plugin: installed, listed, configured, migrated."""

from importlib.metadata import version
from pathlib import Path

import mercato_promotions
import pytest
from mercato_promotions.models import DiscountCode
from pyramid.interfaces import IRoutesMapper
from sqlalchemy import inspect, text

from mercato import Base, ConfigurationError
from mercato.testing import describe, discover, make_plugin_manager, migration_locations


def test_plugin_is_installed_and_listed():
    assert discover()["promotions"].value == "mercato_promotions.hooks"
    info = next(i for i in describe(make_plugin_manager(["promotions"])) if i.name == "promotions")
    assert info.enabled
    assert info.version == version("mercato-promotions")
    assert {"mercato_price_adjustments", "mercato_order_placed", "mercato_render_slot"} <= set(
        info.hooks
    )


def test_mercato_settings_schema_gives_defaults(make_test_app):
    app = make_test_app(plugins=["promotions"])
    assert app.app.registry.settings["mercato.promotions"] == {"label": "Discount"}


def test_mercato_settings_schema_refuses_a_bad_value_in_one_line(make_test_app):
    with pytest.raises(ConfigurationError) as refused:
        make_test_app(plugins=["promotions"], **{"mercato.promotions.label": "x" * 41})
    assert "mercato.promotions.label" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_mercato_migration_folders_adds_the_promotions_branch(db_engine):
    hooks = make_plugin_manager(["promotions"]).hook
    folder = Path(mercato_promotions.__file__).parent / "migrations"
    assert str(folder) in migration_locations(hooks)
    with db_engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        assert "promotions_0001" in set(versions)

    # The migrated table is exactly what the model says, constraint names included.
    table = DiscountCode.__table__
    inspector = inspect(db_engine)
    assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys())
    checks = {c["name"] for c in inspector.get_check_constraints(table.name)}
    assert checks == {c.name for c in table.constraints if c.name and c.name.startswith("ck_")}
    assert table.metadata is Base.metadata, "the plugin's models share the kernel's metadata"


def test_mercato_permissions_gives_promotions_manage_to_staff():
    declared = make_plugin_manager(["promotions"]).hook.mercato_permissions()
    assert declared == [{"promotions.manage": ["staff", "admin"]}]


def test_mercato_configure_adds_routes_templates_and_static_files(make_test_app):
    app = make_test_app(plugins=["promotions"])
    mapper = app.app.registry.getUtility(IRoutesMapper)
    routes = {route.name: route.pattern for route in mapper.get_routes()}
    assert routes["promotions_apply"] == "/promotions/code"
    assert routes["promotions_staff"] == "/admin/promotions"
    assert app.get("/static/promotions/promotions.css").content_type == "text/css"
