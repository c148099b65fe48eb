"""The ``mercato`` command, run as a store owner runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MERCATO = [sys.executable, "-m", "mercato.cli"]
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


def test_bad_config_is_one_line_and_exit_code_2(tmp_path):
    path = tmp_path / "bad.ini"
    path.write_text("[app:main]\nuse = egg:mercato\nmercato.plugins = nope\n")
    result = run("-c", str(path), "plugins")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("mercato: setting sqlalchemy.url is missing")


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
