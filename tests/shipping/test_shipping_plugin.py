"""The plugin as a shop owner meets it: listed with its hooks, its settings checked at
start-up, and the demo's zones added once by ``mercato demo``."""

import pytest
from sqlalchemy import func, select

from mercato import ConfigurationError, make_app
from mercato.testing import base_settings, describe, make_plugin_manager
from mercato_shipping.models import ShippingMethod, ShippingZone


def test_the_plugin_is_listed_with_its_hooks():
    pm = make_plugin_manager(["shipping"])
    info = next(info for info in describe(pm) if info.name == "shipping")
    assert info.enabled
    assert {
        "mercato_shipping_options",
        "mercato_render_slot",
        "mercato_admin_links",
        "mercato_sample_data",
        "mercato_migration_folders",
    } <= set(info.hooks)


def test_a_bad_setting_stops_the_start_with_its_name(migrated_database, redis_url):
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": "shipping",
            "mercato.shipping.max_tiers": "0",
        }
    )
    with pytest.raises(ConfigurationError, match="max_tiers"):
        make_app(settings, environ={})


def test_sample_data_adds_the_demo_zones_once(dbsession):
    hooks = make_plugin_manager(["shipping"]).hook
    said = []
    settings = {"mercato.currency": "EUR"}
    hooks.mercato_sample_data(dbsession=dbsession, settings=settings, progress=said.append)
    hooks.mercato_sample_data(dbsession=dbsession, settings=settings, progress=said.append)
    dbsession.commit()
    zones = dbsession.scalars(select(ShippingZone).order_by(ShippingZone.position)).all()
    assert [(z.name, len(z.countries)) for z in zones] == [
        ("Germany", 1),
        ("European Union", 26),
        ("United States", 1),
    ]
    assert "DE" not in zones[1].countries and "FR" in zones[1].countries
    assert dbsession.scalar(select(func.count()).select_from(ShippingMethod)) == 4
    assert said[1] == "shipping: zones already there, sample data skipped"
