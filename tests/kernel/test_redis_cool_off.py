"""After Redis fails, the app's client refuses at once for ``redis.socket_timeout``
seconds (no request waits on a dead server), then finds Redis again, however steady the
traffic: a refusal is not counted as a new failure."""

import time

import pytest
import redis

from mercato.redis_client import make_redis
from tests.shop.test_shop_redis_outage import RedisServer


@pytest.fixture
def server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def test_steady_requests_find_redis_again_once_it_is_back(server):
    client = make_redis({"redis.url": server.url, "redis.socket_timeout": "1"})
    assert client.ping()
    server.kill()
    with pytest.raises(redis.ConnectionError):
        client.ping()  # the failure: the cool-off starts
    server.start()

    refused, deadline = 0, time.monotonic() + 10  # ten cool-offs
    while True:
        try:
            assert client.ping()
            break
        except redis.ConnectionError:
            refused += 1
            assert time.monotonic() < deadline, f"still refused after {refused} requests"
            time.sleep(0.1)  # a request every 0.1 s, as a busy shop sends them

    assert refused <= 15, "refused only while the one cool-off lasted"
    client.close()
