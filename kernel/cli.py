"""The ``mercato`` command: serve, demo, migrate, plugins, shell, and plugin commands.

Settings come from a pserve-compatible ini file (``-c``, ``MERCATO_CONFIG``, or
``config/development.ini``), with environment overrides for secrets and URLs.
"""

import argparse
import json
import logging
import os
import secrets
import sys
from pathlib import Path

from .exceptions import ConfigurationError

log = logging.getLogger("mercato")

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
    """What a command gets: resolved settings and the enabled plugins' hooks."""

    def __init__(self, raw_settings: dict):
        from . import plugins
        from .settings import resolve_settings

        self.raw_settings = raw_settings
        self.settings = resolve_settings(raw_settings)
        self.plugin_manager = plugins.make_plugin_manager(self.settings["mercato.plugins"])
        self.settings.update(
            plugins.plugin_settings(self.plugin_manager, self.settings, os.environ)
        )
        self.hooks = self.plugin_manager.hook

    def app(self):
        from . import make_app

        return make_app(self.raw_settings)


def cmd_serve(args, env: Env) -> int:
    import waitress

    app = env.app()
    log.info("serving on http://%s:%s", args.host, args.port)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads)
    return 0


def cmd_migrate(args, env: Env) -> int:
    from . import migrate

    migrate.run(env.settings, env.hooks, args.action, args.revision)
    return 0


def cmd_plugins(args, env: Env) -> int:
    from . import plugins
    from .settings import mask

    secret_keys = plugins.secret_setting_names(env.plugin_manager)
    infos = plugins.describe(env.plugin_manager)
    rows = []
    for info in infos:
        values = env.settings.get(f"mercato.{info.name}", {}) if info.enabled else {}
        shown = {
            key: mask(f"mercato.{info.name}.{key}", value, secret_keys)
            for key, value in sorted(values.items())
        }
        rows.append({**vars(info), "settings": shown})
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for row in rows:
        state = "enabled " if row["enabled"] else "disabled"
        print(f"{state}  {row['name']} {row['version'] or ''}  ({row['source']})")
        if row["hooks"]:
            print(f"          hooks: {', '.join(row['hooks'])}")
        for key, value in row["settings"].items():
            print(f"          mercato.{row['name']}.{key} = {value}")
    return 0


def cmd_shell(args, env: Env) -> int:
    import code

    from pyramid.scripting import prepare

    app = env.app()
    closer = prepare(registry=app.registry)
    request = closer["request"]
    request.tm.begin()
    namespace = {
        "app": app,
        "registry": app.registry,
        "request": request,
        "dbsession": request.dbsession,
        "redis": request.redis,
        "hooks": app.registry.hooks,
        "tm": request.tm,
    }
    banner = "Mercato shell: app, registry, request, dbsession, redis, hooks, tm (tm.commit())"
    try:
        code.interact(banner=banner, local=namespace)
    finally:
        request.tm.abort()
        closer["closer"]()
    return 0


def cmd_demo(args, env_factory) -> int:
    """Embedded PostgreSQL + Redis, migrate, sample data, waitress on 127.0.0.1."""
    import transaction
    import waitress

    from . import make_app, migrate
    from .embedded import EmbeddedPostgres, EmbeddedRedis

    data = Path(args.data).resolve()
    data.mkdir(parents=True, exist_ok=True)
    secret_file = data / "secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    print("mercato demo: starting embedded PostgreSQL and Redis …", flush=True)
    postgres = EmbeddedPostgres(data / "postgres")
    redis_server = EmbeddedRedis(data / "redis")
    try:
        os.environ["DATABASE_URL"] = postgres.url
        os.environ["REDIS_URL"] = redis_server.url
        os.environ.setdefault("MERCATO_SECRET", secret_file.read_text().strip())
        env = env_factory()
        print("mercato demo: migrating …", flush=True)
        migrate.run(env.settings, env.hooks)
        app = make_app(env.raw_settings)
        with transaction.manager as tm:
            session = app.registry.dbsession_factory()
            from zope.sqlalchemy import register

            register(session, transaction_manager=tm)
            env.hooks.mercato_sample_data(
                dbsession=session, progress=lambda msg: print(f"mercato demo: {msg}", flush=True)
            )
        print(f"mercato demo: open http://127.0.0.1:{args.port}/  (Ctrl-C stops)", flush=True)
        waitress.serve(app, host="127.0.0.1", port=args.port, threads=8)
    except KeyboardInterrupt:
        pass
    finally:
        print("mercato demo: stopping embedded servers …", flush=True)
        redis_server.stop()
        postgres.stop()
    return 0


def build_parser(env: Env | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mercato", description="Mercato commerce framework")
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("MERCATO_CONFIG", DEFAULT_CONFIG),
        help="pserve-compatible ini file (default: $MERCATO_CONFIG or %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("serve", help="serve the app with waitress (production path)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6543)
    p.add_argument("--threads", type=int, default=8)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="run the storefront on embedded PostgreSQL and Redis")
    p.add_argument("--port", type=int, default=6543)
    p.add_argument("--data", default="var/demo", help="where the embedded servers keep data")
    p.set_defaults(func=cmd_demo, needs_env=False)

    p = sub.add_parser("migrate", help="upgrade the database (kernel and every plugin)")
    p.add_argument(
        "action",
        nargs="?",
        default="upgrade",
        choices=["upgrade", "downgrade", "current", "history", "heads"],
    )
    p.add_argument("revision", nargs="?", default="heads")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("plugins", help="list installed plugins, their hooks and settings")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("shell", help="a Python shell with the app, a request and a session")
    p.set_defaults(func=cmd_shell)

    if env is not None:
        env.hooks.mercato_cli(subparsers=sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # A first pass finds the config file, whose plugins may add commands.
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-c", "--config", default=os.environ.get("MERCATO_CONFIG", DEFAULT_CONFIG))
    known, rest = pre.parse_known_args(argv)
    try:
        raw = load_settings(known.config)
        # The demo starts its own servers first, so its settings are resolved later.
        env = None if rest[:1] == ["demo"] else Env(raw)
        parser = build_parser(env)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        if args.func is cmd_demo:
            return cmd_demo(args, lambda: Env(raw))
        return args.func(args, env) or 0
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
