"""Rate limits in Redis (the ``limits`` library, moving windows).

Any plugin limits an action with one call::

    from mercato import rate_limit
    rate_limit(request, "search")   # raises HTTPTooManyRequests when over the limit

The 429 answer carries ``Retry-After`` (seconds) and a page, or JSON under ``/api/``,
that says when to try again. Limits are strings in the ``limits`` notation, several
separated by ``;``; each is configurable as ``mercato.ratelimit.<name>``::

    mercato.ratelimit.login.account = 5/minute;30/hour
    mercato.ratelimit.enabled = false          # e.g. for a load test

A request made with an API key is counted as that key's (not its address's), and
every such request against the key's own limit, ``mercato.ratelimit.api_key``
(600/minute unless set; the api_keys plugin).

Every window is one Redis key (a Lua script on that one key), so Redis Cluster works.
Keys are hashed so that no email address or IP address is stored in Redis in clear.
"""

import hashlib
import logging
import math
import time

from limits import parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from pyramid.httpexceptions import HTTPTooManyRequests
from pyramid.settings import asbool

from mercato.exceptions import ConfigurationError

log = logging.getLogger(__name__)

PREFIX = "mercato.ratelimit."

DEFAULT_LIMITS = {
    # Every login attempt from one address; failed attempts on one account (known or
    # not: the answer must not tell which).
    "login.ip": "20/minute;200/hour",
    "login.account": "5/minute;30/hour",
    "password_reset.ip": "10/hour",
    "password_reset.account": "3/hour",
    "register": "10/hour",
    "search": "60/minute",
    # No "cart": no view ever asked for it. A cart is bounded by itself (max_lines, the
    # quantity cap), and an add stays one round trip to Redis besides the session.
    "checkout": "10/minute;60/hour",
}


class AppRedisStorage(RedisStorage):
    """limits' Redis storage on the app's own client, a single server's or a cluster's
    (limits would otherwise build a client of its own, without the app's timeouts)."""

    def __init__(self, client):
        self.client = client
        super().__init__("redis://", key_prefix="ratelimit")  # its own client is never used

    def get_connection(self, readonly: bool = False):
        return self.client


class RateLimits:
    """The limits of one app: parsed once, counted in the app's Redis."""

    def __init__(self, settings: dict, redis_client):
        self.enabled = asbool(settings.get(PREFIX + "enabled", True))
        self.limiter = MovingWindowRateLimiter(AppRedisStorage(redis_client))
        configured = {
            key[len(PREFIX) :]: value
            for key, value in settings.items()
            if key.startswith(PREFIX) and key != PREFIX + "enabled"
        }
        self.items = {}
        for name, value in {**DEFAULT_LIMITS, **configured}.items():
            self.items[name] = self._parse(name, value)

    @staticmethod
    def _parse(name: str, value: str):
        try:
            return parse_many(value)
        except ValueError:
            raise ConfigurationError(
                f"mercato: setting {PREFIX}{name} = {value!r} is not valid: "
                "write limits like 5/minute or 10/minute;100/hour"
            ) from None

    def items_for(self, name: str, default: str | None):
        if name not in self.items:
            if default is None:
                raise ValueError(f"no rate limit named {name!r}: pass default='5/minute'")
            self.items[name] = self._parse(name, default)
        return self.items[name]

    def retry_after(self, item, name: str, key: str) -> int:
        stats = self.limiter.get_window_stats(item, name, key)
        return max(1, math.ceil(stats.reset_time - time.time()))


def _hashed(key) -> str:
    return hashlib.sha256(str(key).encode()).hexdigest()[:32]


def client_address(request) -> str:
    """The client's address as the WSGI server saw it.

    Never ``X-Forwarded-For`` read here: anyone can send that header. Behind a proxy,
    the WSGI server (waitress ``trusted_proxy``) rewrites ``REMOTE_ADDR`` from the
    proxy's headers, and only for the proxies it trusts.
    """
    return request.environ.get("REMOTE_ADDR") or "unknown"


def _whose(request, key) -> str:
    """``key`` hashed; when omitted, the API key (or other credentials) the request
    authenticates with, else the client's address: clients of one office share an
    address, and one key used from many machines is still one client."""
    if key is None:
        credentials = request.credentials
        key = client_address(request) if credentials is None else credentials.client
    return _hashed(key)


def _too_many(retry_after: int) -> HTTPTooManyRequests:
    return HTTPTooManyRequests(
        detail=f"Too many attempts. Please try again in {_human(retry_after)}.",
        headers={"Retry-After": str(retry_after)},
    )


def _human(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = math.ceil(minutes / 60)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def limit(request, name: str, key=None, default: str | None = None) -> None:
    """Count one ``name`` action for ``key`` and raise ``HTTPTooManyRequests`` (429,
    with ``Retry-After``) when that goes over the limit.

    ``key`` says whose actions are counted together: when omitted, the request's
    credentials (an API key: ``mercato_request_credentials``), else its address;
    pass a normalized email for per-account limits, a user id or cart id for
    per-shopper ones. ``default`` (e.g. ``"30/minute"``) declares a limit that is not
    in ``DEFAULT_LIMITS``; ``mercato.ratelimit.<name>`` still overrides it.
    """
    limits = request.registry.rate_limits
    if not limits.enabled:
        return
    key = _whose(request, key)
    for item in limits.items_for(name, default):
        if not limits.limiter.hit(item, name, key):
            log.info("rate limit %s (%s) reached", name, item)
            raise _too_many(limits.retry_after(item, name, key))


def check(request, name: str, key=None, default: str | None = None) -> None:
    """Raise ``HTTPTooManyRequests`` if ``name`` is already over its limit for ``key``,
    counting nothing. With ``hit``, limits only failures (failed logins)."""
    limits = request.registry.rate_limits
    if not limits.enabled:
        return
    key = _whose(request, key)
    for item in limits.items_for(name, default):
        if not limits.limiter.test(item, name, key):
            raise _too_many(limits.retry_after(item, name, key))


def hit(request, name: str, key=None, default: str | None = None) -> None:
    """Count one ``name`` action for ``key`` without raising (see ``check``)."""
    limits = request.registry.rate_limits
    if not limits.enabled:
        return
    key = _whose(request, key)
    for item in limits.items_for(name, default):
        limits.limiter.hit(item, name, key)


def includeme(config):
    config.registry.rate_limits = RateLimits(config.registry.settings, config.registry.redis)


# The public names (``from mercato import rate_limit``): in a plugin's module, ``limit``
# alone would not say what it limits.
rate_limit = limit
rate_limit_check = check
rate_limit_hit = hit
