"""Plugins are found through entry points, enabled by config, called in config order,
and a wrong configuration stops the app with one clear line."""

import subprocess
import sys
import textwrap

import pytest

from mercato import ConfigurationError, Line, Money, PricingContext, make_app, price_lines
from mercato.ops.plugins import describe
from mercato.plugins import make_plugin_manager
from mercato.testing import base_settings
from tests.kernel.plugins import recorder, with_settings

RECORDER = "tests.kernel.plugins.recorder"


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A third-party plugin installed the way pip installs one: a module and a dist-info
    folder whose entry_points.txt registers it in the mercato.plugins group."""
    (tmp_path / "mercato_hello.py").write_text(
        textwrap.dedent(
            """
            from mercato import Money, hookimpl

            @hookimpl
            def mercato_unit_price(sku, context):
                return Money(4200, context.currency) if sku == "HELLO" else None
            """
        )
    )
    dist = tmp_path / "mercato_hello-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mercato-hello\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[mercato.plugins]\nhello = mercato_hello\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "hello"
    sys.modules.pop("mercato_hello", None)


def context():
    return PricingContext(currency="EUR")


def test_plugin_is_loaded_from_its_entry_point(installed_plugin):
    pm = make_plugin_manager([installed_plugin])
    price = pm.hook.mercato_unit_price(sku="HELLO", quantity=1, context=context())
    assert price == Money(4200, "EUR")
    info = next(i for i in describe(pm) if i.name == "hello")
    assert (info.version, info.enabled, info.hooks) == ("1.2.3", True, ["mercato_unit_price"])


def test_installed_but_not_enabled_plugin_is_listed_as_disabled(installed_plugin):
    pm = make_plugin_manager([])
    info = next(i for i in describe(pm) if i.name == "hello")
    assert info.enabled is False
    assert pm.hook.mercato_unit_price(sku="HELLO", quantity=1, context=context()) is None


def test_hooks_are_called_in_config_order():
    for order in (["first", "second", "third"], ["third", "first", "second"]):
        recorder.CALLS.clear()
        pm = make_plugin_manager([f"{RECORDER}.{name}" for name in order])
        pm.hook.mercato_price_adjustments(lines=[], context=context())
        assert recorder.CALLS == order


def test_kernel_folds_adjustments_in_config_order():
    pm = make_plugin_manager([f"{RECORDER}.second", f"{RECORDER}.first"])
    priced = price_lines(pm.hook, [Line(sku="first-SKU", quantity=3)], context())
    assert [a.label for a in priced.adjustments] == ["second", "first"]
    assert priced.subtotal == Money(3000, "EUR")
    assert priced.total == Money(3000 + 250 - 100, "EUR")


def test_firstresult_hook_stops_at_the_first_plugin_in_config_order():
    recorder.CALLS.clear()
    pm = make_plugin_manager([f"{RECORDER}.second", f"{RECORDER}.first"])
    assert pm.hook.mercato_unit_price(sku="second-SKU", quantity=1, context=context())
    assert recorder.CALLS == ["second:price"]


def test_disabled_plugin_hooks_are_not_called():
    recorder.CALLS.clear()
    pm = make_plugin_manager([f"{RECORDER}.first"])
    priced = price_lines(pm.hook, [Line(sku="second-SKU", quantity=1)], context())
    assert "second" not in recorder.CALLS and "second:price" not in recorder.CALLS
    assert priced.unpriced == ["second-SKU"]


def start_error(plugins: str, environ=None, **settings) -> str:
    with pytest.raises(ConfigurationError) as caught:
        make_app(
            base_settings(
                **{
                    "sqlalchemy.url": "postgresql://127.0.0.1/never-connected",
                    "redis.url": "redis://127.0.0.1:1/0",
                    "mercato.plugins": plugins,
                    **settings,
                }
            ),
            environ=environ or {},
        )
    message = str(caught.value)
    assert "\n" not in message, "a start-up error is one line"
    return message


def test_unknown_plugin_names_the_plugin_and_the_fix():
    message = start_error("catalogue")
    assert "unknown plugin 'catalogue'" in message
    assert "did you mean 'catalog'?" in message
    assert "install the package" in message


def test_hook_without_spec_names_the_plugin_and_the_hook():
    message = start_error("tests.kernel.plugins.misspelled")
    assert "plugin 'tests.kernel.plugins.misspelled'" in message
    assert "mercato_unit_prise" in message
    assert "did you mean mercato_unit_price?" in message


def test_hook_with_arguments_the_spec_lacks_is_refused():
    message = start_error("tests.kernel.plugins.wrong_args")
    assert "plugin 'tests.kernel.plugins.wrong_args'" in message
    assert "does not match its specification" in message


def test_plugin_listed_twice_is_refused():
    assert "listed twice" in start_error(f"{RECORDER}.first {RECORDER}.first")


PLUGIN = "tests.kernel.plugins.with_settings"


def test_missing_required_plugin_setting_names_key_and_environment_variable():
    message = start_error(PLUGIN)
    assert f"plugin '{PLUGIN}' setting mercato.{PLUGIN}.api_key: Required" in message
    assert "WITH_SETTINGS_API_KEY" in message


def test_invalid_plugin_setting_is_refused():
    message = start_error(
        PLUGIN, **{f"mercato.{PLUGIN}.api_key": "k", f"mercato.{PLUGIN}.page_size": "0"}
    )
    assert f"mercato.{PLUGIN}.page_size" in message and "less than minimum" in message


def test_misspelled_plugin_setting_suggests_the_right_one():
    message = start_error(
        PLUGIN, **{f"mercato.{PLUGIN}.api_key": "k", f"mercato.{PLUGIN}.page_sise": "3"}
    )
    assert f"did you mean mercato.{PLUGIN}.page_size?" in message


def test_plugin_settings_are_validated_typed_and_overridden_by_environment(make_test_app):
    make_test_app(
        plugins=[PLUGIN],
        **{f"mercato.{PLUGIN}.api_key": "from-ini", f"mercato.{PLUGIN}.page_size": "30"},
    )
    assert with_settings.SEEN == {"api_key": "from-ini", "page_size": 30}


def test_environment_overrides_a_secret_setting(migrated_database, redis_url):
    app = make_app(
        base_settings(
            **{
                "sqlalchemy.url": migrated_database,
                "redis.url": redis_url,
                "mercato.plugins": PLUGIN,
            }
        ),
        environ={"WITH_SETTINGS_API_KEY": "from-env"},
    )
    assert app.registry.settings[f"mercato.{PLUGIN}"]["api_key"] == "from-env"
    app.registry.db_engine.dispose()


def test_missing_kernel_setting_is_one_line():
    with pytest.raises(ConfigurationError) as caught:
        make_app({"mercato.secret": "x", "redis.url": "redis://127.0.0.1/0"}, environ={})
    assert str(caught.value) == (
        "mercato: setting sqlalchemy.url is missing: set it in the ini file "
        "or the DATABASE_URL environment variable"
    )


def test_pserve_style_start_prints_one_line_and_no_traceback(tmp_path):
    ini = tmp_path / "broken.ini"
    ini.write_text(
        "[app:main]\nuse = egg:mercato\nmercato.plugins = nosuchplugin\n"
        "mercato.secret = x\nsqlalchemy.url = postgresql://127.0.0.1/x\n"
        "redis.url = redis://127.0.0.1:6379/0\n"
    )
    script = f"from pyramid.paster import get_app; import sys; get_app({str(ini)!r}, 'main')"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env={}
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("mercato: unknown plugin 'nosuchplugin'")


def test_disabled_plugin_is_described_with_its_hooks(installed_plugin):
    info = next(i for i in describe(make_plugin_manager([])) if i.name == "hello")
    assert (info.enabled, info.hooks, info.problem) == (False, ["mercato_unit_price"], None)


def test_installed_plugin_that_cannot_load_is_described_not_fatal(installed_plugin, tmp_path):
    (tmp_path / "mercato_hello.py").write_text("raise RuntimeError('half-installed')\n")
    sys.modules.pop("mercato_hello", None)
    info = next(i for i in describe(make_plugin_manager([])) if i.name == "hello")
    assert info.problem == "cannot be loaded: RuntimeError: half-installed"


def test_an_error_inside_a_hook_names_the_plugin_and_keeps_its_type():
    pm = make_plugin_manager([f"{RECORDER}.first", "tests.kernel.plugins.raising"])
    with pytest.raises(RuntimeError) as caught:
        price_lines(pm.hook, [Line(sku="first-SKU", quantity=1)], context())
    assert caught.value.__notes__ == [
        "raised by plugin 'tests.kernel.plugins.raising' in mercato_price_adjustments"
    ]
