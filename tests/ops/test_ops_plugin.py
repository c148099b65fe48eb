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


def test_the_http_edge_is_the_ops_plugins_and_in_place_before_any_plugin_configures(
    make_test_app,
):
    app = make_test_app(plugins=["tests.ops.plugins.early"])
    first = app.get("/early/limited")
    assert (
        "img-src 'self' data: https://images.early.example;"
        in (first.headers["Content-Security-Policy"])
    )
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    app.get("/early/limited")
    assert app.get("/early/limited", status=429).headers["Retry-After"]
    app.get("/early/limited?q=%00", status=400)  # the NUL refusal, before the view
