"""PostgreSQL through SQLAlchemy 2 and psycopg 3, joined to the request's transaction.

``request.dbsession`` is the primary: everything that writes, and every read that must
see the latest state (cart, checkout, accounts, admin). ``request.read_dbsession`` may be
bound to a read replica (``sqlalchemy.read_url``) for pages that tolerate a little lag
(catalog, search); without a replica it is the primary session itself, and so it is
while the replica cannot be reached: a request that finds it down reads the primary, and
so do the next ones for ``REPLICA_RETRY_AFTER`` seconds. A connection to the replica waits
at most ``REPLICA_CONNECT_TIMEOUT`` seconds, well within a request's time.
"""

import logging
import time

import transaction
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from zope.sqlalchemy import register

# Constraint names that alembic can find again: every plugin shares this metadata.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

REGISTRY_KEY = "mercato.registry"
TM_KEY = "mercato.transaction_manager"  # in the info of sessions joined to a request
REPLICA_CONNECT_TIMEOUT = 2  # seconds; libpq's least
REPLICA_RETRY_AFTER = 10.0  # seconds

log = logging.getLogger(__name__)

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Declarative base for the kernel's and every plugin's models."""

    metadata = metadata


def registry_of(dbsession: Session):
    """The app a session of ``request.dbsession``'s kind belongs to, or ``None`` (a
    script's own session): code that holds only a session reaches the hooks so."""
    return dbsession.info.get(REGISTRY_KEY)


def sqlalchemy_url(url: str) -> str:
    """Use psycopg 3 whatever driver the URL names (``postgresql://`` means psycopg2)."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(settings: dict, url: str | None = None, role: str = "primary") -> Engine:
    """An engine whose every wait is bounded: pool, connect and statements.

    Connections are not pinged as they leave the pool (``sqlalchemy.pool_pre_ping``;
    measured at 15% of an add to cart under load). A connection that died meanwhile
    (PostgreSQL restarted, a firewall dropped it) fails its first statement; SQLAlchemy
    then throws away every connection of the pool opened before, and a request is
    retried by pyramid_retry (``mercato.errors``) on new ones. ``role`` names the
    connections in ``pg_stat_activity`` (``mercato-primary``, ``mercato-replica``).
    """
    replica = role == "replica"
    return create_engine(
        sqlalchemy_url(url or settings["sqlalchemy.url"]),
        pool_size=settings["sqlalchemy.pool_size"],
        max_overflow=settings["sqlalchemy.max_overflow"],
        pool_timeout=settings["sqlalchemy.pool_timeout"],
        pool_pre_ping=settings.get("sqlalchemy.pool_pre_ping", False),
        connect_args={
            "connect_timeout": (
                REPLICA_CONNECT_TIMEOUT if replica else settings["sqlalchemy.connect_timeout"]
            ),
            "application_name": f"mercato-{role}",
            "options": f"-c statement_timeout={settings['sqlalchemy.statement_timeout_ms']}",
        },
    )


def _joined(request, factory: sessionmaker, joined: sessionmaker) -> Session:
    """A session joined to pyramid_tm (commit if the request succeeds, else abort): from
    ``joined`` with the thread's manager, else (``tm.manager_hook``) registered alone."""
    if request.tm is transaction.manager:
        session = joined()
    else:
        session = factory()
        register(session, transaction_manager=request.tm)
    session.info[TM_KEY] = request.tm
    request.add_finished_callback(lambda _request: session.close())
    return session


def _dbsession(request) -> Session:
    registry = request.registry
    return _joined(request, registry.dbsession_factory, registry.request_dbsession_factory)


def _read_dbsession(request) -> Session:
    registry = request.registry
    if registry.read_dbsession_factory is None or time.monotonic() < registry.replica_down_until:
        return request.dbsession
    session = _joined(
        request, registry.read_dbsession_factory, registry.request_read_dbsession_factory
    )
    try:
        session.connection()  # connect now, while the primary can still take over
    except OperationalError as exc:
        registry.replica_down_until = time.monotonic() + REPLICA_RETRY_AFTER
        log.warning("read replica unreachable, reading from the primary: %s", exc.orig)
        return request.dbsession
    return session


def _request_factory(factory: sessionmaker) -> sessionmaker:
    """``factory``'s, joined once to the thread's manager (not 7 ``event.listen`` per
    session: 50 µs a request); a subclass of its class, so what plugins listen to on
    ``factory`` hears these sessions too."""
    joined = sessionmaker(class_=factory.class_, **factory.kw)
    register(joined, transaction_manager=transaction.manager)
    return joined


def includeme(config):
    settings = config.registry.settings
    engine = make_engine(settings)
    config.registry.db_engine = engine
    # The registry rides along in every session, so that code holding only a session
    # (the outbox's after-commit delivery) can reach the app's plugins.
    config.registry.dbsession_factory = sessionmaker(
        bind=engine, info={REGISTRY_KEY: config.registry}
    )
    read_url = settings.get("sqlalchemy.read_url")
    config.registry.read_dbsession_factory = (
        sessionmaker(bind=make_engine(settings, read_url, "replica")) if read_url else None
    )
    config.registry.request_dbsession_factory = _request_factory(config.registry.dbsession_factory)
    replica = config.registry.read_dbsession_factory
    config.registry.request_read_dbsession_factory = replica and _request_factory(replica)
    config.registry.replica_down_until = 0.0
    config.add_request_method(_dbsession, "dbsession", reify=True)
    config.add_request_method(_read_dbsession, "read_dbsession", reify=True)
