"""The kernel's commands, added to ``mercato`` by the ``ops`` plugin's ``mercato_cli``:
serve, demo, migrate, plugins, shell, worker, outbox list|retry, reconcile.

Each ``cmd_*`` receives ``(args, env)`` (``mercato.ops.cli.Env``) and returns the exit
status; heavy imports wait until the command runs, so ``--help`` stays quick.
"""

import json
import logging
import os
import signal
import threading

from mercato.outbox import notify_plugins

from .demo import cmd_demo
from .outbox import MAX_ATTEMPTS, OutboxError, Worker, entries, prune, retry

log = logging.getLogger(__name__)


def cmd_serve(args, env) -> int:
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


def cmd_migrate(args, env) -> int:
    from . import migrate

    migrate.run(env.settings, env.hooks, args.action, args.revision)
    return 0


def cmd_plugins(args, env) -> int:
    from mercato import plugins
    from mercato.settings import mask

    from .plugins import describe, secret_setting_names

    secret_keys = secret_setting_names(env.plugin_manager)
    infos = describe(env.plugin_manager)
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


def cmd_shell(args, env) -> int:
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


def cmd_worker(args, env) -> int:
    registry = env.app().registry
    worker = Worker(registry, max_attempts=args.max_attempts)
    if args.once:
        worker.run_once()
        return 0
    stop = threading.Event()
    # Finish the delivery in hand, then exit: interrupting a plugin mid-send would
    # roll its row back and send that message a second time later.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("outbox worker: started (plugins: %s)", ", ".join(notify_plugins(registry)))
    worker.run_forever(stop, interval=args.interval)
    return 0


def cmd_outbox_list(args, env) -> int:
    from sqlalchemy.orm import Session

    registry = env.app().registry
    with Session(registry.db_engine) as session:
        found = entries(session, dead=args.dead, limit=args.limit)
    if not found:
        print("no dead deliveries" if args.dead else "nothing pending")
        return 0
    for entry in found:
        ident = "-" if entry.delivery_id is None else str(entry.delivery_id)
        when = f" next {entry.next_attempt_at:%Y-%m-%d %H:%M:%S}" if entry.next_attempt_at else ""
        print(
            f"{ident:>6}  {entry.status:<7}  {entry.event:<24} {entry.recipient or '-':<28} "
            f"{entry.plugin or '-':<16} attempts {entry.attempts}{when}"
        )
        if entry.last_error:
            print(f"        error: {entry.last_error.splitlines()[0]}")
    return 0


def cmd_outbox_prune(args, env) -> int:
    from datetime import timedelta

    from mercato.db import make_engine

    if args.older_than_days < 1:
        print("mercato outbox prune: --older-than-days must be at least 1")
        return 2
    engine = make_engine(env.settings)
    try:
        deleted = prune(
            engine,
            timedelta(days=args.older_than_days),
            progress=lambda what, count: print(f"  {what}: {count:,} deleted …", flush=True),
        )
    finally:
        engine.dispose()
    print(
        f"mercato outbox prune: {deleted['messages']:,} sent message(s) and "
        f"{deleted['provider events']:,} payment provider event id(s) older than "
        f"{args.older_than_days} days deleted"
    )
    return 0


def cmd_outbox_retry(args, env) -> int:
    registry = env.app().registry
    try:
        error = retry(registry, args.id)
    except OutboxError as exc:
        print(f"mercato outbox retry: {exc}")
        return 1
    if error is None:
        print(f"delivery {args.id}: delivered")
        return 0
    print(f"delivery {args.id}: failed again ({error}); the worker will keep retrying it")
    return 1


def cmd_reconcile(args, env) -> int:
    """Safe to run from cron, as often as you like."""
    from mercato.orders.reconcile import reconcile

    registry = env.app().registry
    report = reconcile(registry, grace=args.grace, action_timeout=args.action_timeout)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(
            f"reconcile: {len(report.voided)} authorization(s) voided, "
            f"{len(report.captured)} order(s) captured, "
            f"{len(report.marked_paid)} marked paid, "
            f"{len(report.cancelled)} abandoned order(s) cancelled, "
            + "".join(
                f"{len(done)} {name.replace('_', ' ')}, " for name, done in report.plugins.items()
            )
            + f"{len(report.failed)} failure(s)"
        )
        for failure in report.failed:
            print(f"  failed: {failure}")
    # Non-zero so that cron mails someone; the next run tries the failures again.
    return 1 if report.failed else 0


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
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

    p = subparsers.add_parser("demo", help="run the storefront on embedded PostgreSQL and Redis")
    p.add_argument("--port", type=int, default=6543)
    p.add_argument("--data", default="var/demo", help="where the embedded servers keep data")
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser("migrate", help="upgrade the database (kernel and every plugin)")
    p.add_argument(
        "action",
        nargs="?",
        default="upgrade",
        choices=["upgrade", "downgrade", "current", "history", "heads"],
    )
    p.add_argument("revision", nargs="?", default="heads")
    p.set_defaults(func=cmd_migrate)

    p = subparsers.add_parser("plugins", help="list installed plugins, their hooks and settings")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_plugins)

    p = subparsers.add_parser("shell", help="a Python shell with the app, a request and a session")
    p.set_defaults(func=cmd_shell)

    p = subparsers.add_parser(
        "worker", help="deliver notifications the after-commit attempt could not, with retries"
    )
    p.add_argument("--once", action="store_true", help="make one pass, then exit")
    p.add_argument(
        "--interval", type=float, default=2.0, help="seconds to wait when idle (default 2)"
    )
    p.add_argument(
        "--max-attempts",
        type=int,
        default=MAX_ATTEMPTS,
        help="attempts before a delivery is marked dead (default %(default)s)",
    )
    p.set_defaults(func=cmd_worker)

    p = subparsers.add_parser(
        "outbox", help="show, retry and prune notifications (emails, webhooks to plugins)"
    )
    actions = p.add_subparsers(dest="outbox_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="pending deliveries, or dead ones with --dead")
    listing.add_argument("--dead", action="store_true", help="show deliveries that gave up")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(func=cmd_outbox_list)
    again = actions.add_parser("retry", help="attempt a pending or dead delivery now")
    again.add_argument("id", type=int, help="the delivery's ID, as `outbox list` shows it")
    again.set_defaults(func=cmd_outbox_retry)
    pruning = actions.add_parser(
        "prune",
        help="delete sent notifications and payment webhook ids older than --older-than-days",
    )
    pruning.add_argument(
        "--older-than-days", type=int, default=90, help="keep this many days (default: 90)"
    )
    pruning.set_defaults(func=cmd_outbox_prune)

    p = subparsers.add_parser(
        "reconcile",
        help="finish what a crash left: void authorizations without an order, capture "
        "orders not yet captured, cancel abandoned ones, finish and apply refunds",
    )
    p.add_argument(
        "--grace",
        type=int,
        default=None,
        metavar="SECONDS",
        help="leave payments younger than this alone (default: mercato.payment_grace_seconds)",
    )
    p.add_argument(
        "--action-timeout",
        type=int,
        default=None,
        metavar="SECONDS",
        help="cancel orders waiting this long for 3-D Secure "
        "(default: mercato.payment_action_seconds)",
    )
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.set_defaults(func=cmd_reconcile)
