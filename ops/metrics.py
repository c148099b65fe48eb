"""``/metrics`` in Prometheus format, and the counters the rest of Mercato feeds.

Measured here: HTTP requests and their latency by route name, PostgreSQL connections in
use, and — read from the database at scrape time — the outbox backlog. Other code
reports business events through two functions::

    from mercato.ops import metrics
    metrics.observe_checkout("placed")     # or "out_of_stock", "payment_declined", …
    metrics.payment_failed("stripe")

Under ``mercato serve`` each worker process writes its numbers to files in
``PROMETHEUS_MULTIPROC_DIR`` and whichever worker answers ``/metrics`` adds them all up
(prometheus-client's multiprocess mode), so a scrape sees the whole server, not one
worker. Without that variable (pserve, tests) the process's own registry is served.

``/metrics`` is closed to the public: it answers addresses in
``mercato.metrics.allowed_networks`` (default: loopback) and requests carrying
``Authorization: Bearer <METRICS_TOKEN>``; everyone else gets a 403. Behind nginx, set
waitress's ``trusted_proxy`` so that the address checked is the client's, not nginx's.
"""

import hmac
import ipaddress
import logging
import os
import re
import time

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from pyramid.response import Response
from pyramid.tweens import MAIN
from pyramid.view import view_config
from sqlalchemy import event, text

from mercato.errors import error_response
from mercato.exceptions import ConfigurationError

from .requestlog import will_be_retried

log = logging.getLogger(__name__)

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# Label values come from code, but a typo must not mint unbounded time series.
LABEL = re.compile(r"[a-z0-9_]{1,40}")

REQUESTS = Counter(
    "mercato_http_requests",
    "HTTP requests by route name, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "mercato_http_request_duration_seconds", "Time to answer a request, by route name", ["route"]
)
CHECKOUTS = Counter("mercato_checkouts", "Checkout attempts by outcome", ["outcome"])
PAYMENT_FAILURES = Counter(
    "mercato_payment_failures", "Payments refused or failed, by provider", ["provider"]
)
DB_IN_USE = Gauge(
    "mercato_db_pool_connections_in_use",
    "PostgreSQL connections checked out of the pools",
    multiprocess_mode="livesum",
)
DB_CAPACITY = Gauge(
    "mercato_db_pool_capacity",
    "PostgreSQL connections the pools may open (pool_size + max_overflow)",
    multiprocess_mode="livesum",
)

# Outbox backlog, asked at scrape time. The tables belong to mercato.outbox; a database
# not yet migrated simply has no backlog to report.
BACKLOG_QUERIES = {
    "undispatched": (
        "outbox_messages",
        "SELECT count(*) FROM outbox_messages WHERE dispatched_at IS NULL",
    ),
    "pending": (
        "outbox_deliveries",
        "SELECT count(*) FROM outbox_deliveries WHERE status = 'pending'",
    ),
    "dead": ("outbox_deliveries", "SELECT count(*) FROM outbox_deliveries WHERE status = 'dead'"),
}


def _label(value: str) -> str:
    value = str(value).lower()
    return value if LABEL.fullmatch(value) else "other"


def observe_checkout(outcome: str) -> None:
    """Count one checkout attempt that ended in ``outcome`` (``placed``, ``out_of_stock``…)."""
    CHECKOUTS.labels(outcome=_label(outcome)).inc()


def payment_failed(provider: str) -> None:
    """Count one payment that ``provider`` refused or that failed on the way."""
    PAYMENT_FAILURES.labels(provider=_label(provider)).inc()


# The two series of each (route, method, status) a process has answered: asking
# ``labels()`` validated and looked them up under a lock on every request. Bounded:
# route names, METHODS and status codes are all finite.
_SERIES: dict[tuple[str, str, int], tuple] = {}


def _series(route: str, method: str, status: int) -> tuple:
    series = _SERIES.get((route, method, status))
    if series is None:
        series = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route))
        _SERIES[route, method, status] = series
    return series


def _observe(request, status: int, started: float) -> None:
    route = request.matched_route.name if request.matched_route is not None else "unmatched"
    method = request.method if request.method in METHODS else "OTHER"
    requests, latency = _series(route, method, status)
    requests.inc()
    latency.observe(time.perf_counter() - started)


def metrics_tween_factory(handler, registry):
    def metrics_tween(request):
        started = time.perf_counter()
        try:
            response = handler(request)
        except Exception as exc:
            if not will_be_retried(request, exc):
                _observe(request, 500, started)
            raise
        _observe(request, response.status_int, started)
        return response

    return metrics_tween


class OutboxBacklog:
    """A collector that counts the outbox's waiting rows when scraped."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        family = GaugeMetricFamily(
            "mercato_outbox_backlog", "Outbox rows waiting, by state", labels=["state"]
        )
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SET LOCAL statement_timeout = 2000"))
                for state, (table, query) in BACKLOG_QUERIES.items():
                    exists = conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar()
                    if exists is not None:
                        family.add_metric([state], conn.execute(text(query)).scalar())
        except Exception as exc:
            # A scrape must not fail because the database is slow or down: /readyz says so.
            log.warning("metrics: outbox backlog unavailable: %s", type(exc).__name__)
        yield family


def exposition(engine) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scrape = CollectorRegistry()
    scrape.register(OutboxBacklog(engine))
    return generate_latest(registry) + generate_latest(scrape)


def _allowed(request) -> bool:
    token = request.registry.metrics_token
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    address = getattr(address, "ipv4_mapped", None) or address
    return any(address in network for network in request.registry.metrics_networks)


@view_config(route_name="metrics", request_method=("GET", "HEAD"))
def metrics_view(request):
    if not _allowed(request):
        return error_response(request, 403, "Metrics are not public.")
    response = Response(body=exposition(request.registry.db_engine))
    response.headers["Content-Type"] = CONTENT_TYPE_PLAIN_0_0_4
    response.cache_control.no_store = True
    return response


def _networks(value: str) -> list:
    try:
        return [
            ipaddress.ip_network(part, strict=False) for part in value.replace(",", " ").split()
        ]
    except ValueError as exc:
        raise ConfigurationError(
            f"mercato: setting mercato.metrics.allowed_networks: {exc}: "
            "list networks such as 127.0.0.0/8 10.0.0.0/8"
        ) from None


def _watch_pool(engine, settings) -> None:
    DB_CAPACITY.inc(settings["sqlalchemy.pool_size"] + settings["sqlalchemy.max_overflow"])
    event.listen(engine, "checkout", lambda *_: DB_IN_USE.inc())
    event.listen(engine, "checkin", lambda *_: DB_IN_USE.dec())


def includeme(config):
    registry = config.registry
    settings = registry.settings
    registry.metrics_networks = _networks(settings["mercato.metrics.allowed_networks"])
    registry.metrics_token = settings["mercato.metrics.token"]
    _watch_pool(registry.db_engine, settings)
    # Under the request log (which times the same request) and over pyramid_tm, so the
    # latency includes the commit.
    config.add_tween(
        "mercato.ops.metrics.metrics_tween_factory", over=("pyramid_tm.tm_tween_factory", MAIN)
    )
    config.add_route("metrics", "/metrics")
    config.scan(__name__)
