"""One Redis client per process, from ``redis.url``; ``request.redis``.

Every Redis command made for a request touches one key, or keys sharing a hash tag, so
that moving to Redis Cluster is a change of URL and not of code.
"""

import redis


def make_redis(settings: dict) -> redis.Redis:
    timeout = settings["redis.socket_timeout"]
    return redis.Redis.from_url(
        settings["redis.url"],
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


def includeme(config):
    config.registry.redis = make_redis(config.registry.settings)
    config.add_request_method(lambda request: request.registry.redis, "redis", reify=True)
