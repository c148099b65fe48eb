"""Server-side sessions in Redis (pyramid_session_redis) and CSRF on every unsafe request.

The cookie carries only a signed id; the session data lives in Redis as JSON (never
pickle: a value read back from Redis must not be able to run code). The cookie is
HttpOnly and SameSite=Lax, and ``Secure`` whenever the request came over HTTPS
(``mercato.session.cookie_secure = auto``, the default) or always (``true``).

Two timeouts bound a session id:

* ``mercato.session.idle_timeout`` (seconds, 7 days): a session not used for that
  long is gone (the Redis key's TTL, pushed back on each use: the read is a GETEX,
  which refreshes the TTL in the same round trip);
* ``mercato.session.max_age`` (seconds, 30 days): no session id lives longer than
  that, however busy (give or take a second: the creation time is stored rounded up).
  Logging in rotates the id (``rotate_session``), so a logged-in session lasts at most
  ``max_age`` after the login.

Redis failing while a session is read or given its id answers the shop's 503 page
(``mercato.errors.redis_unavailable``), never a bare server error.
"""

import json
import logging
import sys
import time
from functools import partial

from pyramid.csrf import get_csrf_token
from pyramid.settings import asbool
from pyramid.tweens import EXCVIEW
from pyramid.view import view_config
from pyramid_session_redis import RedisSessionFactory
from redis.exceptions import RedisError

from .exceptions import ConfigurationError

COOKIE_NAME = "mercato_session"
log = logging.getLogger(__name__)

CSRF_KEY = "_csrft_"  # where Pyramid's session CSRF storage keeps the token


def _serialize(data: dict) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def rotate_session(request, keep_data: bool = True) -> None:
    """Give the session a new id, keeping its data (a guest's cart, flash messages)
    unless ``keep_data`` is false.

    Call it whenever privileges change (login, logout, password change): an id an
    attacker planted or saw before the change is then worth nothing (session fixation).
    The old id is deleted from Redis at once. The CSRF token is not carried over;
    the next page (or ``GET /api/session/csrf``) gets a fresh one.
    """
    session = request.session
    data = {k: v for k, v in session.items() if k != CSRF_KEY} if keep_data else {}
    session.invalidate()
    # Writing to an invalidated session creates a new id; the response sets its cookie.
    session.update(data)


@view_config(route_name="api_csrf", renderer="json", request_method="GET")
def csrf_for_api_clients(request):
    """Headless and mobile clients read the token here and send it as X-CSRF-Token."""
    request.response.cache_control.no_store = True
    return {"csrf_token": get_csrf_token(request)}


class _PipelineLater:
    """The session read's pipeline, made when a plugin first queues on it: a Redis
    Cluster's costs 14 µs to make, a fifth of the read it would otherwise be added to."""

    def __init__(self, client):
        self._client = client
        self.pipe = None

    def __len__(self) -> int:
        return len(self.pipe) if self.pipe is not None else 0

    def __getattr__(self, name):
        if self.pipe is None:
            self.pipe = self._client.pipeline(transaction=False)
        return getattr(self.pipe, name)


class RefreshOnRead:
    """The Redis client as pyramid_session_redis sees it, one per request: a session is
    read with GETEX, which pushes its TTL back in the same command, so the EXPIRE the
    library sends after every read (a second round trip on every request) is left out;
    what plugins asked to read with the session (``config.add_session_read``) goes in
    the same round trip. Everything else goes to the client unchanged."""

    def __init__(self, client, timeout: int, request=None, reads=()):
        self._client = client
        self._timeout = timeout
        self._request = request
        self._reads = reads

    def get(self, key):
        later = _PipelineLater(self._client)
        asked = []  # (receive, how many commands its read queued)
        for read in self._reads:
            queued = len(later)
            if (receive := read(self._request, later)) is not None:
                asked.append((receive, len(later) - queued))
        if later.pipe is None:  # nothing queued
            return self._client.getex(key, ex=self._timeout)
        later.pipe.getex(key, ex=self._timeout)
        *answers, session = later.pipe.execute(raise_on_error=False)
        if isinstance(session, Exception):
            raise session
        for receive, count in asked:
            mine, answers = answers[:count], answers[count:]
            try:
                receive(iter(mine))
            except Exception:  # a plugin's read never costs the request its session
                log.exception("config.add_session_read: %r failed", receive)
        return session

    def expire(self, key, seconds):
        return True  # done by the GETEX that read the session

    def pipeline(self):
        # A new id is claimed with WATCH … MULTI on its one key: a transaction, which a
        # Redis Cluster's pipeline is only when asked for one.
        return self._client.pipeline(transaction=True)

    def __getattr__(self, name):
        return getattr(self._client, name)


def _seconds(settings: dict, key: str, default: int) -> int:
    value = settings.get(key, default)
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = 0
    if seconds <= 0:
        raise ConfigurationError(
            f"mercato: setting {key} = {value!r} is not valid: expected a number of seconds"
        )
    return seconds


def add_session_read(config, read) -> None:
    """``config.add_session_read(read)``: ``read(request, pipe)`` may queue Redis reads
    the request will need on ``pipe``, sent with the read of its session (one round
    trip), and returns a function that takes its answers from the iterator it is given
    (an exception instance for a command that failed), or ``None``."""
    config.registry.session_reads.append(read)


def make_session_factory(settings: dict, client, reads=()):
    idle = _seconds(settings, "mercato.session.idle_timeout", 7 * 24 * 3600)
    max_age = _seconds(settings, "mercato.session.max_age", 30 * 24 * 3600)
    secure_mode = str(settings.get("mercato.session.cookie_secure", "auto")).strip().lower()
    if secure_mode not in ("auto", "true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ConfigurationError(
            f"mercato: setting mercato.session.cookie_secure = {secure_mode!r} is not valid: "
            "use auto (Secure over HTTPS), true or false"
        )

    def sessions_client(request, **_kw):
        return RefreshOnRead(client, idle, request, reads)

    def factory(secure: bool):
        return RedisSessionFactory(
            secret=settings["mercato.secret"],
            timeout=idle,
            cookie_name=COOKIE_NAME,
            cookie_httponly=True,
            cookie_samesite="Lax",
            cookie_secure=secure,
            redis_client_callable=sessions_client,
            serialize=_serialize,
            deserialize=json.loads,
            # A payload that cannot be read (tampered, old format) starts a new session
            # instead of failing the request.
            deserialized_fails_new=True,
            # The idle timeout is the key's TTL alone. With python_expires (the
            # library's default) every save stamps "expires: now + timeout" into the
            # payload, so the payload changed every second and was written back
            # (SETEX) on nearly every request: a quarter of a cached product page's
            # time under load (py-spy).
            python_expires=False,
        )

    over_https, over_http = factory(True), factory(False)

    def session_factory(request):
        secure = request.scheme == "https" if secure_mode == "auto" else asbool(secure_mode)
        session = (over_https if secure else over_http)(request)
        # The library saves the session in a finished callback, once the response is
        # made: Redis failing there (a Redis Cluster's slot moving) is logged, not a
        # bare server error in place of that response.
        if request.finished_callbacks[-1] == session._deferred_callback:
            request.finished_callbacks[-1] = partial(_save_or_log, session._deferred_callback)
        if not session.new and time.time() - session.created > max_age:
            session.invalidate()
        return session

    return session_factory


def _save_or_log(save, request) -> None:
    try:
        save(request)
    except RedisError:
        log.error("session not saved: Redis failed after the response was made", exc_info=True)


def _used_session(request):
    """The request's session if it was used and not invalidated, else None."""
    session = request.__dict__.get("session")  # never creates one
    return None if session is None or session._invalidated else session


def abandon_session_writes(request) -> None:
    """Redis failed: the session's callbacks (setting the cookie, saving the data) must
    not talk to it after the error page, where a failure is a bare server error."""
    session = _used_session(request)
    if session is None:
        return
    if session.new:
        session.invalidate()  # never written: nothing to delete in Redis
    else:
        session._session_state.dont_persist = True
        session._session_state.dont_refresh = True


def new_session_id_tween_factory(handler, registry):
    """A new session that holds data (a CSRF token, a guest's cart) gets its id here.

    That id is a write in Redis, which the library would otherwise make while setting
    the cookie, after every tween and error view: a failing Redis there was a bare
    server error. Here it gets the error view's 503 page, and the transaction is
    aborted (a 5xx).
    """

    def new_session_id_tween(request):
        response = handler(request)
        session = _used_session(request)
        if session is not None and session.managed_dict:
            try:
                session.ensure_id()
            except RedisError:
                return request.invoke_exception_view(sys.exc_info())
        return response

    return new_session_id_tween


def _needs_csrf_token(request) -> bool:
    # Credentials of its own (an API key in the Authorization header) replace the
    # cookie, which is what a browser adds by itself: no other site can forge that.
    return request.credentials is None


def includeme(config):
    registry = config.registry
    registry.session_reads = []
    config.add_directive("add_session_read", add_session_read)
    config.set_session_factory(
        make_session_factory(registry.settings, registry.redis, registry.session_reads)
    )
    # Every POST/PUT/PATCH/DELETE must carry the session's token, as the form field
    # ``csrf_token`` or the ``X-CSRF-Token`` header; a view exempts itself with
    # ``require_csrf=False`` only when it authenticates otherwise (signed webhooks).
    # Over HTTPS Pyramid also compares Origin/Referer with the host; a mobile or
    # headless client sends neither, and the secret token still has to match, so a
    # request without both is allowed (one with a foreign Origin is still refused).
    config.set_default_csrf_options(
        require_csrf=True,
        header="X-CSRF-Token",
        allow_no_origin=True,
        callback=_needs_csrf_token,
    )
    config.add_route("api_csrf", "/api/session/csrf")
    config.add_tween(
        "mercato.sessions.new_session_id_tween_factory",
        under="pyramid_tm.tm_tween_factory",
        over=EXCVIEW,
    )
    config.scan(__name__)
