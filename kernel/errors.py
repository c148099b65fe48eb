"""Error pages: plain words for people, JSON for API clients, details only in the log.

No traceback, SQL or setting ever reaches the client. A 500 gets a reference (the
request id) that the shopper can quote and staff can find in the log.
"""

import hashlib
import itertools
import logging
import os

from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken
from pyramid.httpexceptions import HTTPException
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import exception_view_config, notfound_view_config
from pyramid_retry import is_last_attempt, mark_error_retryable
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from .exceptions import CheckoutError
from .redis_client import FAILED_KEY
from .sessions import abandon_session_writes

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Please check what you sent."),
    401: ("Please log in", "You need to log in to see this page."),
    403: ("Not allowed", "You do not have permission to do that."),
    404: ("Page not found", "We could not find that page. It may have moved or never existed."),
    405: ("Not allowed", "That kind of request is not accepted here."),
    409: ("Conflict", "That change conflicts with the current state. Please try again."),
    413: ("Too large", "What you sent is larger than we accept."),
    429: ("Too many requests", "You are going a bit fast. Please wait a moment and try again."),
    500: ("Something went wrong", "We are sorry: something went wrong on our side."),
    503: ("Temporarily unavailable", "The shop is busy or under maintenance. Try again soon."),
}
REDIS_DOWN = "Part of the shop is unavailable for a moment. Please try again in a minute."


class RequestIds:
    """Fresh request ids: 32 hex characters, a keyed BLAKE2b of a per-process counter.

    ``uuid.uuid4()`` asked the kernel for random bytes on every request: a system call
    that releases the GIL, and under load the request thread then queued to get it
    back (61% of /healthz's samples under wrk, py-spy). Here the system call happens
    once per process (the key), and each id is a hash of the next number: unique per
    process as a counter is, unique across processes by their keys, and telling
    nothing (not how many requests a process has served) to whoever reads one. A
    forked worker (``mercato serve``, gunicorn) takes a key of its own: it would
    otherwise repeat its parent's ids. hashlib keeps the GIL for inputs this small.
    """

    def __init__(self):
        self._renew()
        os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        self._key = os.urandom(32)
        self._numbers = itertools.count()  # next() on it is atomic under the GIL

    def __call__(self) -> str:
        number = next(self._numbers).to_bytes(8, "little")
        return hashlib.blake2b(number, key=self._key, digest_size=16).hexdigest()


new_request_id = RequestIds()


def request_id(request) -> str:
    """The request's id: the proxy's ``X-Request-Id`` (the request log keeps it only
    when it is a plain token), else a fresh one, made once per request."""
    rid = request.__dict__.get("_mercato_request_id")
    if rid is None:
        # From the environ: the same header as ``request.headers``, without building it.
        rid = request.environ.get("HTTP_X_REQUEST_ID", "")[:64] or new_request_id()
        request._mercato_request_id = rid
    return rid


def raw_path(request) -> str:
    """The path as the WSGI server passed it: never raises, even on bytes that are not
    UTF-8 (``request.path`` would)."""
    return request.environ.get("PATH_INFO", "")


def wants_json(request) -> bool:
    if raw_path(request).startswith("/api/"):
        return True
    accept = request.accept
    return bool(
        accept.header_value
        and accept.best_match(["text/html", "application/json"]) == "application/json"
    )


def error_response(request, status: int, detail: str | None = None, headers=None):
    title, default_message = MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    message = detail or default_message
    if wants_json(request):
        response = Response(json_body={"error": {"status": status, "message": message}})
        response.content_type = "application/json"
    else:
        response = render_to_response(
            "error.jinja2",
            {
                "status": status,
                "title": title,
                "message": message,
                "reference": request_id(request),
            },
            request=request,
        )
    response.status_int = status
    response.cache_control.no_store = True
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _public_detail(exc: HTTPException) -> str | None:
    # Pyramid fills ``detail`` only when code raises with a message meant for the
    # client (``HTTPBadRequest("Quantity must be a whole number")``).
    detail = exc.detail if isinstance(exc.detail, str) else None
    return detail or None


@notfound_view_config()
def not_found(exc, request):
    # The router puts the path in ``detail``; the generic sentence reads better.
    return error_response(request, 404)


@exception_view_config(UnicodeDecodeError)
def undecodable(exc, request):
    # An address or form with bytes that are not UTF-8 (``/p/%ff``): the client's mistake.
    return error_response(request, 400, "That address or form contains characters we cannot read.")


@exception_view_config(BadCSRFToken)
@exception_view_config(BadCSRFOrigin)
def bad_csrf(exc, request):
    return error_response(
        request,
        400,
        "This form has expired or was sent from another site. "
        "Please reload the page and try again.",
    )


@exception_view_config(CheckoutError)
def checkout_refused(exc, request):
    # A plugin refused while pricing or checking out, outside the views that catch it
    # (a review page, GET /api/checkout, a tax service that is down): its words and
    # status for the shopper. The 4xx/5xx answer aborts the transaction (commit_veto).
    return error_response(request, exc.status, exc.message)


@exception_view_config(HTTPException)
def http_error(exc, request):
    if exc.code < 400:
        return exc
    headers = {k: v for k, v in exc.headers.items() if k in ("Retry-After", "Allow")}
    return error_response(
        request, exc.code, _public_detail(exc) if exc.code < 500 else None, headers
    )


def _lost_connection(exc) -> bool:
    """A statement failed because its PostgreSQL connection was dead. Its transaction
    died with the connection, so running the request again repeats nothing (and every
    external call of an attempt is idempotent anyway). A COMMIT that fails never comes
    here: it is raised by pyramid_tm after the views, and whether it happened is
    unknown, so it is never retried."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


# PostgreSQL gave up waiting (statement_timeout, a lock held too long by a request that
# is itself slow): nothing was written, and the same request later will most likely pass.
TIMED_OUT = {"57014", "55P03"}  # query_canceled, lock_not_available


def _timed_out(exc) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in TIMED_OUT


def _retryable(exc, request) -> bool:
    """Serialization failures and deadlocks, as the transaction's data managers judge,
    and statements that found their connection dead.

    Asked here because this view runs before pyramid_tm looks at the error, while the
    session is still joined to the transaction; once marked, pyramid_retry re-runs the
    request (``retry.attempts``).
    """
    try:
        txn = request.tm.get()
    except Exception:  # no transaction (an error before pyramid_tm began one)
        return False
    if txn.isRetryableError(exc) or _lost_connection(exc):
        mark_error_retryable(exc)
        return True
    return False


@exception_view_config(RedisError)
def redis_unavailable(exc, request):
    """Redis (sessions, carts, rate limits) failed: the shop's own 503, its page
    rendered without the personal parts that need Redis."""
    request.environ[FAILED_KEY] = True
    abandon_session_writes(request)
    log.warning(
        "Redis unavailable on %s %s (request %s): %s",
        request.method,
        raw_path(request),
        request_id(request),
        exc,
    )
    return error_response(request, 503, REDIS_DOWN, headers={"Retry-After": "5"})


@exception_view_config(Exception)
def server_error(exc, request):
    if _retryable(exc, request):
        if not is_last_attempt(request):
            raise exc  # back through pyramid_tm (abort) to pyramid_retry (try again)
        log.warning("giving up on %s %s after retries: %s", request.method, raw_path(request), exc)
        return error_response(request, 503, headers={"Retry-After": "1"})
    if _timed_out(exc):
        log.warning("busy: %s %s timed out: %s", request.method, raw_path(request), exc.orig)
        return error_response(request, 503, headers={"Retry-After": "5"})
    log.error(
        "unhandled error on %s %s (request %s)",
        request.method,
        raw_path(request),
        request_id(request),
        exc_info=exc,
    )
    return error_response(request, 500)


def includeme(config):
    config.scan(__name__)
