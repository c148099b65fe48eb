"""The ``mercato`` command, run as a store owner runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MERCATO = [sys.executable, "-m", "mercato.ops.cli"]
# An empty environment but for the path to this repository's test plugins.
ENV = {"PYTHONPATH": str(ROOT)}


@pytest.fixture
def ini(tmp_path, migrated_database, redis_url):
    """A shop with one small plugin, on the suite's database (migrated with every plugin)."""
    path = tmp_path / "shop.ini"
    path.write_text(
        "[app:main]\nuse = egg:mercato\n"
        "mercato.plugins = tests.kernel.plugins.with_settings\n"
        "mercato.secret = s3cr3t-value\n"
        f"sqlalchemy.url = {migrated_database}\nredis.url = {redis_url}\n"
        "mercato.tests.kernel.plugins.with_settings.api_key = sk_live_do_not_show\n"
        "mercato.tests.kernel.plugins.with_settings.page_size = 7\n"
    )
    return path


def run(*args, env=None):
    return subprocess.run(
        [*MERCATO, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env or ENV
    )


def test_plugins_lists_enabled_and_installed_plugins_with_masked_secrets(ini):
    result = run("-c", str(ini), "plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    enabled = rows["tests.kernel.plugins.with_settings"]
    assert enabled["enabled"] is True
    assert enabled["hooks"] == ["mercato_configure", "mercato_settings_schema"]
    assert enabled["settings"] == {"api_key": "********", "page_size": 7}
    assert rows["catalog"]["enabled"] is False and rows["catalog"]["version"]
    assert "sk_live_do_not_show" not in result.stdout + result.stderr


def test_plugins_text_output(ini):
    result = run("-c", str(ini), "plugins")
    assert result.returncode == 0, result.stderr
    assert "enabled   tests.kernel.plugins.with_settings" in result.stdout
    assert "mercato.tests.kernel.plugins.with_settings.page_size = 7" in result.stdout
    assert "sk_live_do_not_show" not in result.stdout


def test_migrate_upgrades_an_empty_database_and_reports_current(ini, postgres_admin_url):
    import secrets

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"mercato_cli_{secrets.token_hex(4)}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    lines = [
        f"sqlalchemy.url = {url}" if line.startswith("sqlalchemy.url") else line
        for line in ini.read_text().splitlines()
    ]
    ini.write_text("\n".join(lines) + "\n")
    try:
        upgrade = run("-c", str(ini), "migrate")
        assert upgrade.returncode == 0, upgrade.stderr
        current = run("-c", str(ini), "migrate", "current")
        assert current.returncode == 0, current.stderr
        assert "mercato_outbox_0001 (head)" in current.stdout
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# The README's development config, and no secret, database, Redis or Stripe key at all.
DEVELOPMENT = str(ROOT / "config" / "development.ini")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["demo"],
        ["plugins"],
        ["migrate"],
        ["user", "create"],
        ["catalog"],  # added by the catalog plugin
        ["catalog", "sample"],
        ["cart", "cleanup"],  # added by the cart plugin
    ],
)
def test_help_needs_no_setting(command):
    result = run("-c", DEVELOPMENT, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mercato"), result.stdout
    assert result.stderr == ""


def test_help_lists_the_commands_of_the_enabled_plugins():
    result = run("-c", DEVELOPMENT, "--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "demo", "plugins", "catalog", "cart"):
        assert f"    {command} " in result.stdout


def test_help_without_a_config_file_shows_the_kernel_commands_and_why_not_more(tmp_path):
    result = run("-c", str(tmp_path / "nope.ini"), "--help")
    assert result.returncode == 0
    assert "    serve " in result.stdout and "    catalog " not in result.stdout
    assert "not found: pass -c PATH or set MERCATO_CONFIG" in result.stderr


@pytest.fixture
def unset_ini(tmp_path):
    """Plugins switched on, and none of the settings they or the kernel require."""
    path = tmp_path / "unset.ini"
    path.write_text(
        "[app:main]\nuse = egg:mercato\n"
        "mercato.plugins = tests.kernel.plugins.with_settings payments_stripe\n"
        "mercato.tests.kernel.plugins.with_settings.page_size = 7\n"
    )
    return path


def test_plugins_reports_missing_settings_instead_of_refusing(unset_ini):
    result = run("-c", str(unset_ini), "plugins")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("enabled   payments_stripe") for line in lines)
    stripe_key = (
        "          missing: mercato.payments_stripe.api_key (set it in the ini file or "
        "STRIPE_API_KEY)"
    )
    assert stripe_key in lines, result.stdout
    assert (
        "          missing: mercato.tests.kernel.plugins.with_settings.api_key (set it in the "
        "ini file or WITH_SETTINGS_API_KEY)"
    ) in lines


def test_plugins_json_reports_missing_settings(unset_ini):
    result = run("-c", str(unset_ini), "plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    stripe = rows["payments_stripe"]
    assert stripe["enabled"] is True and "mercato_payment_methods" in stripe["hooks"]
    missing = {problem["setting"]: problem for problem in stripe["setting_problems"]}
    assert missing["mercato.payments_stripe.api_key"]["env"] == "STRIPE_API_KEY"
    assert missing["mercato.payments_stripe.api_key"]["problem"] == "Required"
    assert stripe["settings"] == {}
    with_settings = rows["tests.kernel.plugins.with_settings"]
    assert [p["setting"] for p in with_settings["setting_problems"]] == [
        "mercato.tests.kernel.plugins.with_settings.api_key"
    ]
    assert rows["catalog"]["enabled"] is False and rows["catalog"]["setting_problems"] == []


def test_a_command_that_needs_a_kernel_setting_says_which_in_one_line(unset_ini):
    result = run("-c", str(unset_ini), "migrate")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("mercato: setting sqlalchemy.url is missing")


def test_a_command_that_needs_a_plugin_setting_says_which_in_one_line(unset_ini):
    env = {
        **ENV,
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "MERCATO_SECRET": "s3cr3t-value",
        "WITH_SETTINGS_API_KEY": "sk_test_set",
    }
    result = run("-c", str(unset_ini), "serve", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(
        "mercato: plugin 'payments_stripe' setting mercato.payments_stripe.api_key: Required"
    )


def test_an_unknown_plugin_is_one_line_and_exit_code_2(tmp_path):
    path = tmp_path / "bad.ini"
    path.write_text("[app:main]\nuse = egg:mercato\nmercato.plugins = nope\n")
    result = run("-c", str(path), "plugins")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("mercato: unknown plugin 'nope' in mercato.plugins")


def test_missing_config_file_says_how_to_fix(tmp_path):
    result = run("-c", str(tmp_path / "nope.ini"), "plugins")
    assert result.returncode == 2
    assert "not found: pass -c PATH or set MERCATO_CONFIG" in result.stderr


def wait_until_serving(port: int, process, deadline_s: float = 60) -> str:
    import time
    import urllib.request

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read())
        try:
            url = f"http://127.0.0.1:{port}/readyz"
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return response.read().decode()
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the server did not answer")


@pytest.mark.parametrize("launcher", ["pserve", "mercato serve"])
def test_the_same_app_is_served_by_pserve_and_mercato_serve(ini, launcher):
    from mercato.testing import free_port

    port = free_port()
    text = (
        ini.read_text() + f"\n[server:main]\nuse = egg:waitress#main\nlisten = 127.0.0.1:{port}\n"
    )
    ini.write_text(text)
    bindir = Path(sys.executable).parent
    if launcher == "pserve":
        command = [str(bindir / "pserve"), str(ini)]
    else:
        command = [*MERCATO, "-c", str(ini), "serve", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        body = wait_until_serving(port, process)
        assert json.loads(body)["status"] == "ready"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_shell_has_the_app_a_session_and_hooks(ini):
    script = (
        "from sqlalchemy import text\n"
        "print('answer', dbsession.execute(text('SELECT 41 + 1')).scalar())\n"
        "print('hooks', hasattr(hooks, 'mercato_unit_price'))\n"
    )
    result = subprocess.run(
        [*MERCATO, "-c", str(ini), "shell"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    assert "answer 42" in result.stdout
    assert "hooks True" in result.stdout
