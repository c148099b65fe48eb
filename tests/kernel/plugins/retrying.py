"""A view that hits a real serialization failure on its first attempt."""

from pyramid.view import view_config
from sqlalchemy import text

from mercato import hookimpl

ATTEMPTS: list[int] = []


@view_config(route_name="retry_probe", renderer="json", require_csrf=False)
def retry_probe(request):
    ATTEMPTS.append(len(ATTEMPTS) + 1)
    if len(ATTEMPTS) == 1:
        # PostgreSQL raising SQLSTATE 40001 itself: exactly what a conflicting
        # SERIALIZABLE transaction gets, through the real driver.
        request.dbsession.execute(
            text("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
        )
    return {"attempts": len(ATTEMPTS)}


@view_config(route_name="count_probe", renderer="json", require_csrf=False)
def count_probe(request):
    """One statement per attempt, counted."""
    ATTEMPTS.append(len(ATTEMPTS) + 1)
    request.dbsession.execute(text("SELECT 1"))
    return {"attempts": len(ATTEMPTS)}


@view_config(route_name="boom", renderer="json", require_csrf=False)
def boom(request):
    raise RuntimeError("secret-value-in-traceback")


@hookimpl
def mercato_configure(config):
    config.add_route("retry_probe", "/retry-probe")
    config.add_route("boom", "/boom")
    config.add_route("count_probe", "/count-probe")
    config.add_route("always_conflicts", "/always-conflicts")
    config.add_route("too_slow", "/too-slow")
    config.scan(__name__)


@view_config(route_name="always_conflicts", renderer="json", require_csrf=False)
def always_conflicts(request):
    ATTEMPTS.append(len(ATTEMPTS) + 1)
    request.dbsession.execute(
        text("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
    )


@view_config(route_name="too_slow", renderer="json", require_csrf=False)
def too_slow(request):
    """A statement PostgreSQL cancels at its statement_timeout, for real."""
    ATTEMPTS.append(len(ATTEMPTS) + 1)
    request.dbsession.execute(text("SET LOCAL statement_timeout = 50"))
    request.dbsession.execute(text("SELECT pg_sleep(1)"))
