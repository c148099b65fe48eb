"""The app's Redis client on a real Redis Cluster (``redis+cluster://``): each node fails
fast on its own, and a write lost after the commit is never answered as a success."""

import time

import pytest
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError

from mercato.redis_client import make_redis
from mercato.testing import csrf_token

from . import writing_plugin


@pytest.fixture
def cluster_client(redis_cluster):
    client = make_redis({"redis.url": redis_cluster.url, "redis.socket_timeout": "2"})
    yield client
    client.close()


def keys_on_two_masters(client: RedisCluster) -> tuple[str, str]:
    """Two keys whose slots two different masters hold."""
    first = "a"
    other = next(
        f"b{n}"
        for n in range(1000)
        if client.get_node_from_key(f"b{n}").name != client.get_node_from_key(first).name
    )
    return first, other


def test_a_cluster_url_gives_a_cluster_client_that_finds_every_node(cluster_client):
    assert isinstance(cluster_client, RedisCluster)
    assert len(cluster_client.get_primaries()) == 3
    for key in ("cart:{x}", "checkout:{y}:lock", "mercato:pagecache:tags"):
        cluster_client.set(key, "1")
        assert cluster_client.get(key) == b"1"


def test_a_dead_master_fails_fast_for_its_slots_only_until_its_replica_takes_over(
    redis_cluster, cluster_client
):
    dead_key, live_key = keys_on_two_masters(cluster_client)
    cluster_client.set(dead_key, "kept")
    cluster_client.wait(1, 1000, target_nodes=cluster_client.get_node_from_key(dead_key))
    redis_cluster.kill(cluster_client.get_node_from_key(dead_key).port)

    with pytest.raises(ConnectionError):
        cluster_client.get(dead_key)
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        cluster_client.get(dead_key)
    assert time.monotonic() - started < 0.5, "the node's outage fails at once"
    assert cluster_client.get(live_key) is None, "the other masters answer meanwhile"
    live = cluster_client.get_node_from_key(live_key)
    outages = live.redis_connection.connection_pool.connection_class.node_outages
    assert outages.active, "redis_down(): pages leave out their personal parts"
    assert not outages.of(live.host, live.port).active

    redis_cluster.wait_until_ready()
    deadline = time.monotonic() + 10
    while True:
        try:
            assert cluster_client.get(dead_key) == b"kept", "the replica had the value"
            break
        except ConnectionError:
            assert time.monotonic() < deadline, "the slot never moved to the new master"
            time.sleep(0.2)


def test_a_write_lost_after_the_commit_answers_a_retryable_503(
    redis_cluster, make_test_app, monkeypatch
):
    app = make_test_app(
        plugins=["tests.redis_cluster.writing_plugin"], **{"redis.url": redis_cluster.url}
    )
    token = csrf_token(app)
    probe = make_redis({"redis.url": redis_cluster.url, "redis.socket_timeout": "2"})
    # A master that holds none of the keys read first (the session): only the write fails.
    used = {probe.get_node_from_key(key).port for key in probe.keys(target_nodes="primaries")}
    key = next(
        f"written:{n}"
        for n in range(1000)
        if probe.get_node_from_key(f"written:{n}").port not in used
    )
    port = probe.get_node_from_key(key).port
    probe.close()
    monkeypatch.setattr(writing_plugin, "before_commit", lambda: redis_cluster.kill(port))

    answer = app.post(f"/test-redis/write/{key}", headers={"X-CSRF-Token": token}, status=503)

    assert answer.headers["Retry-After"]
    assert "try again" in answer.text.lower() or "moment" in answer.text.lower()


def test_a_session_save_failing_after_the_response_is_logged_not_a_500(
    redis_cluster, make_test_app, monkeypatch, caplog
):
    app = make_test_app(
        plugins=["tests.redis_cluster.writing_plugin"], **{"redis.url": redis_cluster.url}
    )
    token = csrf_token(app)
    probe = make_redis({"redis.url": redis_cluster.url, "redis.socket_timeout": "2"})
    (session_key,) = probe.keys(target_nodes="primaries")
    session_port = probe.get_node_from_key(session_key).port
    key = next(
        f"written:{n}"
        for n in range(1000)
        if probe.get_node_from_key(f"written:{n}").port != session_port
    )
    probe.close()
    monkeypatch.setattr(writing_plugin, "before_commit", lambda: redis_cluster.kill(session_port))

    answer = app.post(f"/test-redis/write/{key}", headers={"X-CSRF-Token": token}, status=200)

    assert answer.json == {"written": True}, "the write reached its own, live master"
    assert "session not saved" in caplog.text
