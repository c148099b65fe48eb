"""A Redis Cluster of the test's own (it is killed in part), and the app on it served
over HTTP by waitress on loopback."""

import pytest
from webtest.http import StopableWSGIServer

from mercato import make_app
from mercato.testing.redis_cluster import LocalRedisCluster


@pytest.fixture
def redis_cluster(tmp_path):
    """Three masters and three replicas on loopback, stopped after the test."""
    cluster = LocalRedisCluster(tmp_path / "cluster").start()
    yield cluster
    cluster.stop()


@pytest.fixture
def serve_on_cluster(redis_cluster, clean_stores):
    """``serve_on_cluster(settings, threads)`` → the base URL of the app on the cluster."""
    started = []

    def start(settings: dict, threads: int) -> str:
        app = make_app({**settings, "redis.url": redis_cluster.url}, environ={})
        server = StopableWSGIServer.create(app, host="127.0.0.1", threads=threads)
        started.append((app, server))
        return server.application_url.rstrip("/")

    yield start
    for app, server in started:
        server.shutdown()
        app.registry.db_engine.dispose()
        app.registry.redis.close()
