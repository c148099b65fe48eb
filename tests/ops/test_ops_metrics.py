"""``/metrics``: Prometheus text, closed to the public, counters that move."""

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from mercato.ops import metrics

PROBE = "tests.ops.plugins.probe"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture
def mercato_plugins():
    return [PROBE]


def value(metrics_text: str, name: str, **labels) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_refuse_an_address_outside_the_allowed_networks(app):
    response = app.get("/metrics", extra_environ=OUTSIDE, status=403)
    assert "Metrics are not public" in response.text
    assert "mercato_http_requests_total" not in response.text


def test_metrics_answer_loopback_by_default(app):
    response = app.get("/metrics")
    assert response.content_type == "text/plain"
    assert "mercato_http_requests_total" in response.text


def test_metrics_accept_the_bearer_token_from_anywhere(make_test_app):
    app = make_test_app(plugins=[PROBE], **{"mercato.metrics.token": "scrape-me-7c1d"})
    headers = {"Authorization": "Bearer scrape-me-7c1d"}
    assert app.get("/metrics", headers=headers, extra_environ=OUTSIDE).status_int == 200
    wrong = {"Authorization": "Bearer scrape-me-0000"}
    app.get("/metrics", headers=wrong, extra_environ=OUTSIDE, status=403)


def test_metrics_token_comes_from_the_environment():
    from mercato.settings import resolve_settings
    from mercato.testing import base_settings

    settings = base_settings(**{"sqlalchemy.url": "postgresql://x/y", "redis.url": "redis://x"})
    resolved = resolve_settings(settings, {"METRICS_TOKEN": "from-env"})
    assert resolved["mercato.metrics.token"] == "from-env"


def test_allowed_networks_are_a_setting(make_test_app):
    app = make_test_app(plugins=[PROBE], **{"mercato.metrics.allowed_networks": "10.0.0.0/8"})
    app.get("/metrics", extra_environ={"REMOTE_ADDR": "10.1.2.3"}, status=200)
    app.get("/metrics", status=403)  # loopback is no longer in the list


def test_a_bad_network_is_refused_at_start_up(make_test_app):
    from mercato import ConfigurationError

    with pytest.raises(ConfigurationError, match="mercato.metrics.allowed_networks"):
        make_test_app(plugins=[], **{"mercato.metrics.allowed_networks": "10.0.0.300/8"})


def test_request_counts_and_latency_move_by_route(app):
    before = app.get("/metrics").text
    for _ in range(3):
        app.get("/probe/pid")
    app.get("/no/such/page", status=404)
    after = app.get("/metrics").text
    labels = {"route": "probe_pid", "method": "GET", "status": "200"}
    assert value(after, "mercato_http_requests_total", **labels) == (
        value(before, "mercato_http_requests_total", **labels) + 3
    )
    assert (
        value(after, "mercato_http_request_duration_seconds_count", route="probe_pid")
        == value(before, "mercato_http_request_duration_seconds_count", route="probe_pid") + 3
    )
    missing = {"route": "unmatched", "status": "404"}
    assert value(after, "mercato_http_requests_total", **missing) == (
        value(before, "mercato_http_requests_total", **missing) + 1
    )


def test_checkout_outcomes_and_payment_failures_are_counted(app):
    before = app.get("/metrics").text
    metrics.observe_checkout("placed")
    metrics.observe_checkout("placed")
    metrics.observe_checkout("Out Of Stock!")  # not a label: counted as "other"
    metrics.payment_failed("stripe")
    after = app.get("/metrics").text
    for name, labels, delta in [
        ("mercato_checkouts_total", {"outcome": "placed"}, 2),
        ("mercato_checkouts_total", {"outcome": "other"}, 1),
        ("mercato_payment_failures_total", {"provider": "stripe"}, 1),
    ]:
        assert value(after, name, **labels) == value(before, name, **labels) + delta


def test_outbox_backlog_and_db_pool_are_reported(app, dbsession):
    dbsession.execute(
        text("INSERT INTO outbox_messages (event, payload) VALUES ('order.placed', '{}')")
    )
    dbsession.commit()
    scraped = app.get("/metrics").text
    assert value(scraped, "mercato_outbox_backlog", state="undispatched") == 1
    assert "mercato_db_pool_connections_in_use" in scraped
    # At least this app's pool (the gauge is the process's: every app made in it adds
    # its own); 20 held only when other tests had made apps in the process before.
    settings = app.app.registry.settings
    own = settings["sqlalchemy.pool_size"] + settings["sqlalchemy.max_overflow"]
    assert value(scraped, "mercato_db_pool_capacity") >= own
