"""The ``mercato`` command. Every command comes from a plugin's ``mercato_cli`` hook:
serve, demo, migrate … from the ``ops`` plugin (``mercato.ops.commands``), the others
from the plugins that own them.

Settings come from a pserve-compatible ini file (``-c``, ``MERCATO_CONFIG``, or
``config/development.ini``), with environment overrides for secrets and URLs.
"""

import argparse
import functools
import os
import sys
from pathlib import Path

from mercato.exceptions import ConfigurationError

DEFAULT_CONFIG = "config/development.ini"


def load_settings(config_uri: str) -> dict:
    from pyramid.paster import get_appsettings, setup_logging

    if not Path(config_uri.split("#")[0]).exists():
        raise ConfigurationError(
            f"mercato: config file {config_uri} not found: pass -c PATH or set MERCATO_CONFIG"
        )
    setup_logging(config_uri)
    return dict(get_appsettings(config_uri, name="main"))


class Env:
    """What a command gets: the enabled plugins' hooks, and their resolved settings.

    The plugins are loaded at once (their commands are part of ``--help``); the settings
    are resolved and validated only when a command reads them, so that help and
    ``mercato plugins`` work before any secret is set, and a command that needs a missing
    setting still stops with the one line that names it.
    """

    def __init__(self, raw_settings: dict):
        from mercato import plugins
        from mercato.settings import enabled_plugins

        self.raw_settings = raw_settings
        self.plugin_manager = plugins.make_plugin_manager(
            plugins.with_defaults(enabled_plugins(raw_settings))
        )
        self.hooks = self.plugin_manager.hook

    @functools.cached_property
    def settings(self) -> dict:
        from mercato import plugins
        from mercato.settings import resolve_settings

        settings = resolve_settings(self.raw_settings)
        settings.update(plugins.plugin_settings(self.plugin_manager, settings, os.environ))
        return settings

    def app(self):
        from mercato import make_app

        return make_app(self.raw_settings)


def build_parser(hooks) -> argparse.ArgumentParser:
    """The parser with every command ``hooks``' plugins add (``mercato_cli``)."""
    parser = argparse.ArgumentParser(prog="mercato", description="Mercato commerce framework")
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("MERCATO_CONFIG", DEFAULT_CONFIG),
        help="pserve-compatible ini file (default: $MERCATO_CONFIG or %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    hooks.mercato_cli(subparsers=sub)
    return parser


def _default_plugins_hooks():
    """The essential and default plugins' hooks alone: their commands (serve, demo,
    migrate …) for ``--help`` when the config file cannot be read."""
    from mercato import plugins

    return plugins.make_plugin_manager(plugins.with_defaults([])).hook


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # A first pass finds the config file, whose plugins may add commands.
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-c", "--config", default=os.environ.get("MERCATO_CONFIG", DEFAULT_CONFIG))
    known, rest = pre.parse_known_args(argv)
    try:
        env = Env(load_settings(known.config))
        hooks = env.hooks
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        if not {"-h", "--help"} & set(rest):
            return 2
        env, hooks = None, _default_plugins_hooks()  # help still works, without the shop's plugins
    try:
        parser = build_parser(hooks)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return args.func(args, env) or 0
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
