"""Counting a request's Redis round trips (a single server's client)."""


class RedisRoundTrips:
    """``RedisRoundTrips(monkeypatch, registry.redis)``: ``count`` goes up by one for
    each connection the client takes from its pool, which it does once per command sent
    alone and once per pipeline. It watches; every call still reaches Redis."""

    def __init__(self, monkeypatch, client):
        pool = client.connection_pool
        take = pool.get_connection
        self.count = 0

        def counted(*args, **kwargs):
            self.count += 1
            return take(*args, **kwargs)

        monkeypatch.setattr(pool, "get_connection", counted)
