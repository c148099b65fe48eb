"""Servers of the scaled shop's own: a PostgreSQL primary with a streaming replica, and an
S3 protocol server; the shop as ``mercato demo`` composes it, on top of them.

PostgreSQL is the machine's (``/usr/lib/postgresql/*/bin``): ``initdb`` makes the primary,
``pg_basebackup -R`` copies it into a replica that streams from it, both on loopback ports
of 18500-18599 in a temporary folder, run as the ``postgres`` user when the tests run as
root (PostgreSQL refuses root). Every test of this folder uses that primary as the test
run's database (``database_url`` below), so the suite's fixtures (``dbsession``, the
accounts, the composed shop) work on it unchanged, and the replica sees what they write.

S3 is moto's server (``moto_server``), a separate process like localstripe, answering
boto3 on a loopback port; the credentials boto3 needs come from the environment.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from glob import glob
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine

from mercato.ops import migrate
from mercato.settings import resolve_settings
from mercato.testing import all_plugin_names, base_settings, make_plugin_manager, port_open

# The composed shop's fixtures, here on this folder's primary.
from tests.shop.conftest import demo_shop, make_demo_shop, shop_catalog  # noqa: F401

PORTS = range(18500, 18600)
RUN_AS = "postgres" if os.geteuid() == 0 else None
DATABASE = "mercato"


def free_ports(count: int, start: int) -> list[int]:
    """``count`` ports of this folder's range, from ``start``, that nothing listens on."""
    found = [port for port in PORTS if port >= start and not port_open("127.0.0.1", port)]
    if len(found) < count:
        pytest.fail(f"no {count} free loopback ports in {PORTS.start}-{PORTS.stop - 1}")
    return found[:count]


def wait_for(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.1)


def postgres_binaries() -> Path:
    """The newest of the machine's PostgreSQL versions (Debian's postgresql package)."""
    found = glob("/usr/lib/postgresql/*/bin/pg_basebackup")
    if not found:
        pytest.fail("tests/scale needs PostgreSQL's binaries: apt-get install postgresql")
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
            pytest.fail(f"{tool} {' '.join(args)} failed:\n{done.stderr}\n{tail}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets}"
        log = self.folder.parent / f"{self.folder.name}.log"
        self.run("pg_ctl", "-D", str(self.folder), "-l", str(log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.folder), "-m", "fast", "-w", "stop")

    @property
    def running(self) -> bool:
        return port_open("127.0.0.1", self.port)

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, params=(), database: str = DATABASE) -> list[tuple]:
        """Run ``statement`` in a connection of its own (autocommit); its rows, if any."""
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


class Replication:
    """A primary and its streaming replica."""

    def __init__(self, primary: PostgresNode, replica: PostgresNode):
        self.primary, self.replica = primary, replica

    def caught_up(self) -> bool:
        (target,) = self.primary.sql("SELECT pg_current_wal_lsn()")[0]
        (done,) = self.replica.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,))[0]
        return done

    def wait_caught_up(self) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        wait_for(self.caught_up, "the replica catching up with the primary")

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


PRIMARY_SETTINGS = """
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
max_connections = 200
fsync = off
"""


@pytest.fixture(scope="session")
def pg_replication():
    """A primary and a streaming replica of its own, with the ``mercato`` database."""
    # Not pytest's tmp_path: its folders are root's alone, and the servers run as postgres.
    root = Path(tempfile.mkdtemp(prefix="mercato-scale-pg-"))
    os.chmod(root, 0o755)
    if RUN_AS:
        shutil.chown(root, RUN_AS, RUN_AS)
    primary_port, replica_port = free_ports(2, 18510)
    primary = PostgresNode(root / "primary", primary_port, root)
    replica = PostgresNode(root / "replica", replica_port, root)
    started = []
    try:
        primary.run(
            "initdb", "-D", str(primary.folder), "-U", "postgres", "--auth=trust", "--no-sync",
            "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        with open(primary.folder / "postgresql.conf", "a") as conf:
            conf.write(PRIMARY_SETTINGS)
        primary.start()
        started.append(primary)
        primary.sql(f'CREATE DATABASE "{DATABASE}"', database="postgres")
        primary.sql("CREATE EXTENSION pg_stat_statements")
        # -R: standby.signal and primary_conninfo written into the copy, so it streams.
        replica.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
            "-D", str(replica.folder), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        replica.start()
        started.append(replica)
        replication = Replication(primary, replica)
        (in_recovery,) = replica.sql("SELECT pg_is_in_recovery()")[0]
        assert in_recovery, "the replica is not a standby"
        yield replication
    finally:
        for node in reversed(started):
            if node.running:
                node.stop()
        shutil.rmtree(root, ignore_errors=True)


# The suite's database fixtures, on the primary. All three are overridden: pytest keeps
# one value of a session fixture per definition, whatever its dependencies are.
@pytest.fixture(scope="session")
def database_url(pg_replication):
    return pg_replication.primary.url()


@pytest.fixture(scope="session")
def migrated_database(database_url, redis_url):
    settings = resolve_settings(
        base_settings(**{"sqlalchemy.url": database_url, "redis.url": redis_url}), environ={}
    )
    migrate.run(settings, make_plugin_manager(all_plugin_names()).hook)
    return database_url


@pytest.fixture(scope="session")
def db_engine(migrated_database):
    engine = create_engine(migrated_database, pool_size=5)
    yield engine
    engine.dispose()


@pytest.fixture
def replication(pg_replication, migrated_database, clean_stores):
    """The primary and its replica, the replica caught up before and after the test (the
    tables are emptied after each test, on the primary, and so on the replica)."""
    pg_replication.wait_caught_up()
    yield pg_replication
    if pg_replication.replica.running:
        pg_replication.wait_caught_up()


def statements_on(node: PostgresNode) -> list[tuple[str, int]]:
    """``(query, calls)`` that ``node`` ran since ``reset_statements(node)``."""
    return node.sql(
        "SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
        "WHERE d.datname = %s AND query NOT ILIKE '%%pg_stat_statements%%'",
        (DATABASE,),
    )


def reset_statements(node: PostgresNode) -> None:
    node.sql("SELECT pg_stat_statements_reset()")


# ---------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------

S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "mercato-test",
    "AWS_SECRET_ACCESS_KEY": "mercato-test-secret",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3 server on a loopback port; its base URL."""
    (port,) = free_ports(1, 18520)
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(  # noqa: S603 (the test extra's moto_server)
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: server.poll() is None and port_open("127.0.0.1", port), "moto_server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3_environment(monkeypatch):
    """boto3's credentials, from the environment as in production."""
    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_bucket(s3_server, s3_environment, request):
    """A new, empty bucket on the S3 server: ``(client, name)``; emptied and removed after."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server)
    name = f"media-{request.node.name.replace('_', '-')[:40].strip('-').lower()}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield client, name
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def bucket_keys(client, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))
