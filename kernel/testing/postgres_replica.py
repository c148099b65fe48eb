"""A PostgreSQL primary and a streaming replica of their own, on loopback, for the tests
and the bench.

The machine's PostgreSQL binaries (``/usr/lib/postgresql/*/bin``, Debian's package):
``initdb`` makes the primary, ``pg_basebackup -R`` copies it into a replica that streams
from it, both on two free ports of ``ports`` with their data in ``folder``. They run as
the ``postgres`` user when the caller is root (PostgreSQL refuses root), so ``folder``
is handed to that user. The primary has a ``mercato`` database with
``pg_stat_statements``, which both servers track: what the replica ran is there to see.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from glob import glob
from pathlib import Path

import psycopg

RUN_AS = "postgres" if os.geteuid() == 0 else None
DATABASE = "mercato"
PRIMARY_SETTINGS = """
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
max_connections = 200
fsync = off
"""


class ReplicationNotReady(RuntimeError):
    pass


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ReplicationNotReady(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.1)


def postgres_binaries() -> Path:
    """The newest of the machine's PostgreSQL versions (Debian's postgresql package)."""
    found = glob("/usr/lib/postgresql/*/bin/pg_basebackup")
    if not found:
        raise ReplicationNotReady("PostgreSQL's binaries are missing: apt-get install postgresql")
    return Path(max(found, key=lambda p: int(Path(p).parents[1].name))).parent


class PostgresNode:
    """One PostgreSQL server of the machine's binaries, on ``port``, data in ``folder``."""

    def __init__(self, folder: Path, port: int, sockets: Path):
        self.folder, self.port, self.sockets = folder, port, sockets

    def run(self, tool: str, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 (the machine's PostgreSQL binaries)
            [str(postgres_binaries() / tool), *args], user=RUN_AS, capture_output=True, text=True
        )
        if done.returncode:
            log = self.folder.parent / f"{self.folder.name}.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise ReplicationNotReady(f"{tool} {' '.join(args)} failed:\n{done.stderr}\n{tail}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets}"
        log = self.folder.parent / f"{self.folder.name}.log"
        self.run("pg_ctl", "-D", str(self.folder), "-l", str(log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.folder), "-m", "fast", "-w", "stop")

    @property
    def running(self) -> bool:
        return port_open(self.port)

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, params=(), database: str = DATABASE) -> list[tuple]:
        """Run ``statement`` in a connection of its own (autocommit); its rows, if any."""
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


class LocalPostgresReplica:
    """Start with ``start()``, stop with ``stop()``; ``primary`` and ``replica`` are the
    two servers (``url(database)`` is what ``sqlalchemy.url`` / ``read_url`` take)."""

    def __init__(self, ports: range):
        self.ports = ports
        self.folder: Path | None = None
        self.primary: PostgresNode | None = None
        self.replica: PostgresNode | None = None
        self._started: list[PostgresNode] = []

    def start(self) -> "LocalPostgresReplica":
        # Not a pytest tmp_path: those folders are root's alone, and the servers run as postgres.
        self.folder = _postgres_folder()
        primary_port, replica_port = self._free_ports(2)
        self.primary = PostgresNode(self.folder / "primary", primary_port, self.folder)
        self.replica = PostgresNode(self.folder / "replica", replica_port, self.folder)
        try:
            self._start_primary()
            # -R: standby.signal and primary_conninfo written into the copy, so it streams.
            self.replica.run(
                "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
                "-D", str(self.replica.folder), "-R", "-X", "stream", "-c", "fast",
            )  # fmt: skip
            self.replica.start()
            self._started.append(self.replica)
            (in_recovery,) = self.replica.sql("SELECT pg_is_in_recovery()")[0]
            if not in_recovery:
                raise ReplicationNotReady("the replica is not a standby")
        except BaseException:
            self.stop()
            raise
        return self

    def _start_primary(self) -> None:
        self.primary.run(
            "initdb", "-D", str(self.primary.folder), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        with open(self.primary.folder / "postgresql.conf", "a") as conf:
            conf.write(PRIMARY_SETTINGS)
        self.primary.start()
        self._started.append(self.primary)
        self.primary.sql(f'CREATE DATABASE "{DATABASE}"', database="postgres")
        self.primary.sql("CREATE EXTENSION pg_stat_statements")

    def _free_ports(self, count: int) -> list[int]:
        found = [port for port in self.ports if not port_open(port)]
        if len(found) < count:
            raise ReplicationNotReady(
                f"no {count} free loopback ports in {self.ports.start}-{self.ports.stop - 1}"
            )
        return found[:count]

    def stop(self) -> None:
        for node in reversed(self._started):
            if node.running:
                node.stop()
        self._started.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def caught_up(self) -> bool:
        (target,) = self.primary.sql("SELECT pg_current_wal_lsn()")[0]
        (done,) = self.replica.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,))[0]
        return done

    def wait_caught_up(self, timeout: float = 30.0) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        wait_for(self.caught_up, "the replica catching up with the primary", timeout)

    @contextlib.contextmanager
    def replay_paused(self):
        """The replica keeps receiving WAL but applies none: replication lag, at will."""
        self.replica.sql("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            self.replica.sql("SELECT pg_wal_replay_resume()")
            self.wait_caught_up()

    @contextlib.contextmanager
    def replica_stopped(self):
        self.replica.stop()
        try:
            yield
        finally:
            self.replica.start()
            wait_for(lambda: self.replica.sql("SELECT 1") == [(1,)], "the replica restarting")
            self.wait_caught_up()


def _postgres_folder() -> Path:
    """A new temporary folder the ``postgres`` user may write in."""
    folder = Path(tempfile.mkdtemp(prefix="mercato-pg-replica-"))
    os.chmod(folder, 0o755)  # noqa: S103 (the servers run as postgres)
    if RUN_AS:
        shutil.chown(folder, RUN_AS, RUN_AS)
    return folder
