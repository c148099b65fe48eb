"""``mercato demo``: the shop on embedded servers, with sample data, on 127.0.0.1.

PostgreSQL and Redis are started here (``mercato.ops.embedded``); every other stand-in
server (a payment provider's) comes from its plugin's ``mercato_demo_servers`` hook.
"""

import contextlib
import fcntl
import os
import secrets
import signal
from pathlib import Path

from mercato.exceptions import ConfigurationError

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

    from mercato.accounts.services import create_user, find_user

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


def _start_plugin_servers(pm, data: Path, started: contextlib.ExitStack) -> list:
    """Every plugin's stand-in servers (``mercato_demo_servers``), each stopped however
    the demo ends, their environment variables set for the settings to read."""
    hook = pm.hook.mercato_demo_servers
    everyone = pm.get_plugins()
    servers = []
    # One plugin at a time: each gets a folder of its own, and the servers started
    # before one that fails are stopped all the same.
    for impl in reversed(hook.get_hookimpls()):  # pluggy's call order
        folder = data / "plugins" / impl.plugin_name
        folder.mkdir(parents=True, exist_ok=True)
        alone = pm.subset_hook_caller(hook.name, remove_plugins=everyone - {impl.plugin})
        for server in alone(data_dir=folder):
            started.callback(server.stop)
            os.environ.update(server.environ)
            servers.append(server)
    return servers


def cmd_demo(args, env) -> int:
    """Embedded PostgreSQL and Redis, each plugin's stand-in servers; migrate; sample
    data; waitress on 127.0.0.1.

    Ctrl-C (SIGINT) and SIGTERM (``kill``, a process manager) stop every server it
    started; servers a killed demo left running on the same data are stopped first.
    """
    import waitress

    from mercato import make_app

    from . import migrate
    from .embedded import EmbeddedPostgres, EmbeddedRedis

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
    print("mercato demo: starting the embedded servers …", flush=True)
    with lock, contextlib.ExitStack() as started:
        try:
            postgres = EmbeddedPostgres(data / "postgres")
            started.callback(postgres.stop)
            redis_server = EmbeddedRedis(data / "redis")
            started.callback(redis_server.stop)
            os.environ.update({"DATABASE_URL": postgres.url, "REDIS_URL": redis_server.url})
            plugin_servers = _start_plugin_servers(env.plugin_manager, data, started)
            os.environ.setdefault("MERCATO_SECRET", _demo_secret(data / "secret"))
            # The sample's pictures live with the demo's other data, not in the work tree.
            os.environ.setdefault("MERCATO_UPLOAD_DIR", str(data / "uploads"))
            print("mercato demo: migrating …", flush=True)
            migrate.run(env.settings, env.hooks)
            app = make_app(env.raw_settings)
            # Closed before the servers stop (the stack unwinds in reverse): what the
            # app still holds for them is written, and its threads let go first.
            started.callback(app.registry.db_engine.dispose)
            admin_password = _demo_secret(data / "admin-password")
            _demo_data(app, env.hooks, admin_password)
            for server in plugin_servers:
                server.serving(f"http://127.0.0.1:{args.port}")
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
