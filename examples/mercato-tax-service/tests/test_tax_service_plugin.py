"""The package is a Mercato plugin: installed, listed, and configured from the ini file
and the environment (the API key)."""

from importlib.metadata import version

import pytest

from mercato import ConfigurationError, make_app, secret_setting_names
from mercato.testing import base_settings, describe, discover, make_plugin_manager


def test_plugin_is_installed_and_listed():
    assert discover()["tax_service"].value == "mercato_tax_service.hooks"
    pm = make_plugin_manager(["tax_service"])
    info = next(i for i in describe(pm) if i.name == "tax_service")
    assert (info.enabled, info.version) == (True, version("mercato-tax-service"))
    assert {"mercato_settings_schema", "mercato_tax_lines"} <= set(info.hooks)
    assert secret_setting_names(pm) == {"mercato.tax_service.api_key"}


@pytest.fixture
def settings(migrated_database, redis_url, clean_stores):
    return base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": "tax_service",
            "mercato.tax_service.url": "https://tax.example.com/v1/tax",
        }
    )


def test_mercato_settings_schema_reads_the_api_key_from_the_environment(settings):
    app = make_app(settings, environ={"TAX_SERVICE_API_KEY": "from-the-environment"})
    try:
        assert app.registry.settings["mercato.tax_service"] == {
            "url": "https://tax.example.com/v1/tax",
            "api_key": "from-the-environment",
            "timeout": 3.0,
        }
    finally:
        app.registry.db_engine.dispose()
        app.registry.redis.close()


def test_mercato_settings_schema_refuses_to_start_without_a_key_or_with_a_bad_url(settings):
    with pytest.raises(ConfigurationError) as refused:
        make_app(settings, environ={})
    assert "mercato.tax_service.api_key" in str(refused.value)
    assert "TAX_SERVICE_API_KEY" in str(refused.value)

    settings["mercato.tax_service.url"] = "file:///etc/passwd"
    with pytest.raises(ConfigurationError) as refused:
        make_app(settings, environ={"TAX_SERVICE_API_KEY": "k"})
    assert "mercato.tax_service.url: must be an http(s) URL" in str(refused.value)
