"""``config.add_session_read``: what a plugin asks of Redis with the session comes in the
round trip that reads the session, and a command Redis refuses does not cost the
request its session."""

import pytest

from mercato.testing import RedisRoundTrips
from tests.kernel.plugins.session_reads import KEY

PROBE = "tests.kernel.plugins.session_reads"


@pytest.fixture
def probe_app(make_test_app):
    app = make_test_app(plugins=[PROBE])
    app.get("/api/session/csrf")  # a session to read
    app.app.registry.redis.set(KEY, "kept")
    return app


def test_a_plugins_read_comes_with_the_session_in_one_round_trip(probe_app, monkeypatch):
    trips = RedisRoundTrips(monkeypatch, probe_app.app.registry.redis)
    answer = probe_app.get("/probe/session-read", headers={"X-Probe": "1"}).json
    assert answer == {"token": True, "answers": ["kept"]}
    assert trips.count == 1


def test_without_anything_to_read_the_session_is_read_alone(probe_app, monkeypatch):
    trips = RedisRoundTrips(monkeypatch, probe_app.app.registry.redis)
    assert probe_app.get("/probe/session-read").json == {"token": True, "answers": []}
    assert trips.count == 1


def test_a_read_redis_refuses_is_an_exception_for_its_plugin_alone(probe_app):
    answer = probe_app.get("/probe/session-read", headers={"X-Probe": "1", "X-Broken": "1"}).json
    assert answer == {"token": True, "answers": ["ResponseError", "kept"]}


def test_a_read_whose_plugin_fails_costs_neither_the_session_nor_the_next_read(probe_app):
    answer = probe_app.get(
        "/probe/session-read", headers={"X-Failing": "1", "X-Probe": "1", "X-Broken": "1"}
    ).json
    assert answer == {"token": True, "answers": ["ResponseError", "kept"]}
