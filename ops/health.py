"""Health endpoints for load balancers and process managers.

``/healthz`` says the process answers; ``/readyz`` says it can serve a shop, i.e.
PostgreSQL and Redis both answer within their timeouts. Neither touches a session, a
transaction or a template, so they stay cheap and honest under load.
"""

import logging

from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)


# The bytes the JSON renderer made of {"status": "ok"}, made once: the renderer (its
# event, json.dumps, content-type and charset handling) was a fifth of /healthz's
# in-process time (cProfile), for an answer that never changes.
HEALTHY = b'{"status": "ok"}'


@view_config(route_name="healthz", request_method=("GET", "HEAD"))
def healthz(request):
    return Response(body=HEALTHY, content_type="application/json")


def _select_one(engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check_postgres(registry) -> str | None:
    try:
        try:
            _select_one(registry.db_engine)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            # A pooled connection PostgreSQL dropped (pools are not pinged); the
            # pool now holds only new ones: ask once more before saying it is down.
            _select_one(registry.db_engine)
    except Exception as exc:
        log.warning("readyz: PostgreSQL unreachable: %s", type(exc).__name__)
        return "unreachable"
    return None


def _check_redis(registry) -> str | None:
    try:
        registry.redis.ping()
    except Exception as exc:
        log.warning("readyz: Redis unreachable: %s", type(exc).__name__)
        return "unreachable"
    return None


@view_config(route_name="readyz", renderer="json", request_method=("GET", "HEAD"))
def readyz(request):
    checks = {
        "postgresql": _check_postgres(request.registry) or "ok",
        "redis": _check_redis(request.registry) or "ok",
    }
    ready = all(state == "ok" for state in checks.values())
    request.response.status_int = 200 if ready else 503
    request.response.cache_control.no_store = True
    return {"status": "ready" if ready else "unavailable", "checks": checks}


def includeme(config):
    config.add_route("healthz", "/healthz")
    config.add_route("readyz", "/readyz")
    config.scan(__name__)
