"""Servers of the scaled shop's own: a PostgreSQL primary with a streaming replica, and an
S3 protocol server; the shop as ``mercato demo`` composes it, on top of them.

PostgreSQL is the machine's, a primary and its streaming replica started by
``mercato.testing.LocalPostgresReplica`` on loopback ports of 18500-18599. Every test of
this folder uses that primary as the test run's database (``database_url`` below), so
the suite's fixtures (``dbsession``, the accounts, the composed shop) work on it
unchanged, and the replica sees what they write.

S3 is moto's server (``moto_server``), a separate process like localstripe, answering
boto3 on a loopback port; the credentials boto3 needs come from the environment.
"""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from mercato.ops import migrate
from mercato.settings import resolve_settings
from mercato.testing import (
    LocalPostgresReplica,
    all_plugin_names,
    base_settings,
    make_plugin_manager,
    port_open,
)
from mercato.testing.postgres_replica import DATABASE, PostgresNode, ReplicationNotReady

# The composed shop's fixtures, here on this folder's primary.
from tests.shop.conftest import demo_shop, make_demo_shop, shop_catalog  # noqa: F401

PORTS = range(18500, 18600)


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


@pytest.fixture(scope="session")
def pg_replication():
    """A primary and a streaming replica of its own, with the ``mercato`` database."""
    replication = LocalPostgresReplica(range(18510, PORTS.stop))
    try:
        replication.start()
    except ReplicationNotReady as error:
        pytest.fail(str(error))
    yield replication
    replication.stop()


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
