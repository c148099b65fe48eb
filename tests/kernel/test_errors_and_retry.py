"""Error pages say what happened in plain words and leak nothing; serialization
failures are retried by pyramid_retry."""

import logging

import pytest

from mercato.testing import LOCAL_POSTGRES
from tests.kernel.plugins import retrying


@pytest.fixture
def app(make_test_app):
    retrying.ATTEMPTS.clear()
    return make_test_app(plugins=["tests.kernel.plugins.retrying"])


def test_serialization_failure_is_retried_and_the_request_succeeds(app):
    response = app.post("/retry-probe")
    assert response.json == {"attempts": 2}
    assert retrying.ATTEMPTS == [1, 2]


def test_retries_exhausted_is_a_503_asking_to_try_again(app):
    response = app.post("/always-conflicts", status=503)
    assert retrying.ATTEMPTS == [1, 2, 3], "retry.attempts = 3"
    assert response.headers["Retry-After"] == "1"
    assert "Temporarily unavailable" in response.text


def test_a_statement_postgresql_timed_out_is_a_503_asking_to_try_again(app):
    response = app.post("/too-slow", status=503, headers={"Accept": "application/json"})
    assert retrying.ATTEMPTS == [1], "not retried at once: the shop is busy"
    assert response.headers["Retry-After"] == "5"
    assert response.json["error"]["status"] == 503
    assert "canceling statement" not in response.text


def test_unhandled_error_is_a_plain_500_page_with_a_reference(app, caplog):
    with caplog.at_level(logging.ERROR, logger="mercato.errors"):
        response = app.get("/boom", status=500, headers={"X-Request-Id": "req-123"})
    assert "Something went wrong" in response.text
    assert "req-123" in response.text
    assert "secret-value-in-traceback" not in response.text
    assert "Traceback" not in response.text and "RuntimeError" not in response.text
    assert "secret-value-in-traceback" in caplog.text, "the detail is logged server-side"


def test_unhandled_api_error_is_json_without_detail(app):
    response = app.get("/boom", status=500, headers={"Accept": "application/json"})
    assert response.json == {
        "error": {"status": 500, "message": "We are sorry: something went wrong on our side."}
    }


def test_not_found_page_in_plain_words(app):
    response = app.get("/no/such/page", status=404)
    assert "Page not found" in response.text
    assert "no/such/page" not in response.text.split("<main", 1)[1]


def test_not_found_api_is_json(app):
    assert app.get("/api/nothing", status=404).json["error"]["status"] == 404


def test_post_without_csrf_token_is_refused_with_a_clear_message(make_test_app):
    app = make_test_app()
    response = app.post("/", status=400)
    assert "This form has expired" in response.text


def test_wrong_method_is_a_clear_4xx(app):
    response = app.delete("/healthz", status=404)
    assert "Page not found" in response.text


def test_address_with_bytes_that_are_not_utf8_is_a_400_not_a_crash(app):
    response = app.get("/anything/%ff", status=400)
    assert "characters we cannot read" in response.text
    api = app.get("/api/anything/%ff", status=400)
    assert api.json["error"]["status"] == 400


def test_a_request_on_a_connection_that_died_is_retried_on_a_new_one(
    make_test_app, tcp_proxy, migrated_database
):
    """Pooled connections are not pinged: when PostgreSQL drops them (a restart), the
    first statement fails, the pool is renewed and the request runs again."""
    from sqlalchemy.engine import make_url

    url = make_url(migrated_database)
    proxy = tcp_proxy((url.host or LOCAL_POSTGRES[0], url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    retrying.ATTEMPTS.clear()
    app = make_test_app(plugins=["tests.kernel.plugins.retrying"], **{"sqlalchemy.url": proxied})
    assert app.get("/count-probe").json == {"attempts": 1}

    proxy.cut()

    assert app.get("/count-probe").json == {"attempts": 3}  # 2: the dead connection's
