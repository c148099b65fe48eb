"""Operations are the ``ops`` plugin, essential (always loaded): the kernel alone serves none
of them."""

import logging

import pytest

from mercato import ConfigurationError

PROBE = "tests.ops.plugins.probe"


def test_health_metrics_and_the_request_log_come_from_the_ops_plugin(make_test_app, caplog):
    caplog.set_level(logging.INFO, logger="mercato.requests")
    app = make_test_app(plugins=[PROBE])
    assert app.get("/healthz").json == {"status": "ok"}
    assert app.get("/metrics").status_int == 200
    assert app.get("/probe/pid").headers["X-Request-Id"]
    assert [r.getMessage().split()[:3] for r in caplog.records if r.name == "mercato.requests"] == [
        ["GET", "/healthz", "200"],
        ["GET", "/metrics", "200"],
        ["GET", "/probe/pid", "200"],
    ]


def test_ops_is_essential_and_cannot_be_switched_off(make_test_app):
    with pytest.raises(ConfigurationError, match="plugin 'ops' is essential"):
        make_test_app(plugins=[PROBE, "no:ops"])
