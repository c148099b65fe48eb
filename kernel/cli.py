"""The ``mercato`` command: serve, demo, migrate, plugins, shell, and plugin commands.

Settings come from a pserve-compatible ini file (``-c``, ``MERCATO_CONFIG``, or
``config/development.ini``), with environment overrides for secrets and URLs.
"""

import argparse
import contextlib
import fcntl
import functools
import json
import logging
import os
import secrets
import signal
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
    """What a command gets: the enabled plugins' hooks, and their resolved settings.

    The plugins are loaded at once (their commands are part of ``--help``); the settings
    are resolved and validated only when a command reads them, so that help and
    ``mercato plugins`` work before any secret is set, and a command that needs a missing
    setting still stops with the one line that names it.
    """

    def __init__(self, raw_settings: dict):
        from . import plugins
        from .settings import enabled_plugins

        self.raw_settings = raw_settings
        self.plugin_manager = plugins.make_plugin_manager(
            plugins.with_defaults(enabled_plugins(raw_settings))
        )
        self.hooks = self.plugin_manager.hook

    @functools.cached_property
    def settings(self) -> dict:
        from . import plugins
        from .settings import resolve_settings

        settings = resolve_settings(self.raw_settings)
        settings.update(plugins.plugin_settings(self.plugin_manager, settings, os.environ))
        return settings

    def app(self):
        from . import make_app

        return make_app(self.raw_settings)


def cmd_serve(args, env: Env) -> int:
    from . import serving

    options = serving.options_from_config(
        args.config,
        env.settings,  # checked here, once, rather than in every worker
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
    )
    return serving.serve(options)


def cmd_migrate(args, env: Env) -> int:
    from . import migrate

    migrate.run(env.settings, env.hooks, args.action, args.revision)
    return 0


def cmd_plugins(args, env: Env) -> int:
    from . import plugins
    from .settings import mask

    secret_keys = plugins.secret_setting_names(env.plugin_manager)
    infos = plugins.describe(env.plugin_manager)
    # A bad or missing setting is reported with its plugin, not refused: this is where a
    # store owner looks to learn what to set.
    problems: list[plugins.SettingProblem] = []
    validated = plugins.plugin_settings(env.plugin_manager, env.raw_settings, os.environ, problems)
    rows = []
    for info in infos:
        values = validated.get(f"mercato.{info.name}", {}) if info.enabled else {}
        shown = {
            key: mask(f"mercato.{info.name}.{key}", value, secret_keys)
            for key, value in sorted(values.items())
        }
        found = [p for p in problems if p.plugin == info.name]
        rows.append({**vars(info), "settings": shown, "setting_problems": found})
    if args.json:
        for row in rows:
            row["setting_problems"] = [
                {"setting": p.setting, "problem": p.problem, "env": p.env, "message": p.message}
                for p in row["setting_problems"]
            ]
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for row in rows:
        state = "enabled " if row["enabled"] else "disabled"
        print(f"{state}  {row['name']} {row['version'] or ''}  ({row['source']})")
        if row["problem"]:
            print(f"          {row['problem']}")
        for problem in row["setting_problems"]:
            if problem.missing:
                where = "set it in the ini file" + (f" or {problem.env}" if problem.env else "")
                print(f"          missing: {problem.setting} ({where})")
            else:
                print(f"          {problem.message}")
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


DEMO_ADMIN = "admin@demo.mercato.test"


def _demo_secret(path: Path) -> str:
    """A random value kept under the demo's data folder, the same on every start."""
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _demo_data(app, hooks, admin_password: str) -> None:
    """Sample data from every plugin and a staff login, once (both are idempotent)."""
    import transaction
    from zope.sqlalchemy import register

    from .accounts.services import create_user, find_user

    def progress(message: str) -> None:
        print(f"mercato demo: {message}", flush=True)

    with transaction.manager:
        session = app.registry.dbsession_factory()
        register(session, transaction_manager=transaction.manager)
        hooks.mercato_sample_data(
            dbsession=session, settings=app.registry.settings, progress=progress
        )
        if find_user(session, DEMO_ADMIN) is None:
            create_user(session, DEMO_ADMIN, admin_password, name="Demo admin", role="admin")
            progress(f"admin account {DEMO_ADMIN} created")


def cmd_demo(args, env: Env) -> int:
    """Embedded PostgreSQL, Redis and Stripe; migrate; sample data; waitress on 127.0.0.1.

    Ctrl-C (SIGINT) and SIGTERM (``kill``, a process manager) stop every server it
    started; servers a killed demo left running on the same data are stopped first.
    """
    import waitress

    from . import make_app, migrate
    from .embedded import (
        API_KEY,
        PUBLISHABLE_KEY,
        WEBHOOK_SECRET,
        EmbeddedPostgres,
        EmbeddedRedis,
        EmbeddedStripe,
    )

    data = Path(args.data).resolve()
    data.mkdir(parents=True, exist_ok=True)
    lock = _lock_demo_data(data)
    # Python dies at once on SIGTERM, skipping the stops below; make it a Ctrl-C instead.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    for leftover in (
        EmbeddedPostgres.stop_leftover(data / "postgres"),
        EmbeddedRedis.stop_leftover(data / "redis"),
    ):
        if leftover:
            print(f"mercato demo: {leftover}; starting afresh", flush=True)
    print("mercato demo: starting embedded PostgreSQL, Redis and Stripe …", flush=True)
    with lock, contextlib.ExitStack() as started:
        try:
            postgres = EmbeddedPostgres(data / "postgres")
            started.callback(postgres.stop)
            redis_server = EmbeddedRedis(data / "redis")
            started.callback(redis_server.stop)
            stripe_server = EmbeddedStripe()
            started.callback(stripe_server.stop)
            os.environ.update(
                {
                    "DATABASE_URL": postgres.url,
                    "REDIS_URL": redis_server.url,
                    "STRIPE_API_KEY": API_KEY,
                    "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
                    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                    "STRIPE_API_BASE": stripe_server.url,
                    "STRIPE_JS_URL": stripe_server.js_url,
                }
            )
            os.environ.setdefault("MERCATO_SECRET", _demo_secret(data / "secret"))
            print("mercato demo: migrating …", flush=True)
            migrate.run(env.settings, env.hooks)
            app = make_app(env.raw_settings)
            admin_password = _demo_secret(data / "admin-password")
            _demo_data(app, env.hooks, admin_password)
            stripe_server.send_webhooks_to(f"http://127.0.0.1:{args.port}/stripe/webhook")
            print(
                f"mercato demo: open http://127.0.0.1:{args.port}/  (Ctrl-C stops)\n"
                f"mercato demo: staff pages at /admin: {DEMO_ADMIN} / {admin_password}",
                flush=True,
            )
            waitress.serve(app, host="127.0.0.1", port=args.port, threads=8)
        except KeyboardInterrupt:
            pass
        finally:
            # A second signal must not cut the stops short and leave a server behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("mercato demo: stopping embedded servers …", flush=True)
    return 0


def _lock_demo_data(data: Path):
    """Hold a lock on the demo's data folder for as long as the demo runs.

    The system drops it when the process ends, however it ends: a server found running
    on an unlocked folder was left by a demo that is gone, and may be stopped.
    """
    lock = (data / "demo.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise ConfigurationError(
            f"mercato demo: another demo (pid {holder}) is running on {data}: stop it, "
            "or give this one its own --data folder"
        ) from None
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def build_parser(env: Env | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mercato", description="Mercato commerce framework")
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("MERCATO_CONFIG", DEFAULT_CONFIG),
        help="pserve-compatible ini file (default: $MERCATO_CONFIG or %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "serve",
        help="serve the app with waitress worker processes (production path)",
        description="Defaults come from the ini file's [server:main] (listen, threads and "
        "every waitress setting) and mercato.serve.workers; SIGHUP reloads, SIGTERM stops.",
    )
    p.add_argument("--host", help="address to listen on (default: [server:main] listen)")
    p.add_argument("--port", type=int, help="port (default: [server:main] listen, else 6543)")
    p.add_argument(
        "--workers", type=int, help="processes (default: mercato.serve.workers, else one per core)"
    )
    p.add_argument("--threads", type=int, help="threads per process (default: [server:main])")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="run the storefront on embedded PostgreSQL and Redis")
    p.add_argument("--port", type=int, default=6543)
    p.add_argument("--data", default="var/demo", help="where the embedded servers keep data")
    p.set_defaults(func=cmd_demo)

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

    from . import outbox
    from .accounts import cli as accounts_cli
    from .orders import cli as orders_cli

    outbox.add_commands(sub)  # worker, outbox list|retry
    accounts_cli.add_commands(sub)  # user create
    orders_cli.add_commands(sub)  # reconcile

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
        env = Env(load_settings(known.config))
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        if not {"-h", "--help"} & set(rest):
            return 2
        env = None  # help still works: the kernel's commands, without the plugins'
    try:
        parser = build_parser(env)
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
