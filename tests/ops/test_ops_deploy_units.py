"""The systemd units in deploy/ run commands the ``mercato`` of the shop as ``mercato
demo`` composes it knows, with arguments it accepts: a renamed command or option would
otherwise fail only on the store owner's server, at night, in a timer."""

import shlex
from pathlib import Path

import pytest

from mercato import plugins
from mercato.ops.cli import build_parser
from tests.shop.conftest import demo_plugins

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONFIG = ["-c", "/etc/mercato/production.ini"]


def commands() -> list[tuple[str, list[str]]]:
    found = []
    for unit in sorted(DEPLOY.glob("*.service")):
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart=/srv/mercato/venv/bin/mercato "):
                argv = shlex.split(line.partition("/bin/mercato ")[2])
                assert argv[:2] == CONFIG, f"{unit.name}: the production config, first"
                found.append((unit.name, argv[2:]))
    return found


def test_every_service_and_timer_pairs_up():
    timers = {path.stem for path in DEPLOY.glob("*.timer")}
    services = {path.stem for path in DEPLOY.glob("*.service")}
    assert timers == {"mercato-reconcile", "mercato-housekeeping"}
    assert timers <= services


@pytest.mark.parametrize(
    ("unit", "argv"), commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_each_unit_runs_a_command_the_demo_shops_mercato_accepts(unit, argv):
    hooks = plugins.make_plugin_manager(plugins.with_defaults(demo_plugins())).hook
    args = build_parser(hooks).parse_args(argv)
    assert callable(getattr(args, "func", None)), f"{unit}: {' '.join(argv)} runs nothing"
