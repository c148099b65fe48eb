"""The request log: one line per request with what an operator needs, and no secret."""

import json
import logging

import pytest

from mercato.testing import csrf_token

PROBE = "tests.ops.plugins.probe"
PASSWORD = "correct-horse-battery-staple-42"
TOKEN = "tok_9f8e7d6c5b4a3210"


@pytest.fixture
def mercato_plugins():
    return [PROBE]


@pytest.fixture
def request_lines(caplog):
    caplog.set_level(logging.INFO, logger="mercato.requests")

    def lines():
        return [r.getMessage() for r in caplog.records if r.name == "mercato.requests"]

    return lines


def test_a_line_has_method_path_status_duration_request_id_and_user(app, request_lines):
    response = app.get("/healthz", headers={"X-Request-Id": "edge-4f2a"})
    assert response.headers["X-Request-Id"] == "edge-4f2a", "the proxy's id is echoed"
    [line] = request_lines()
    assert line.startswith("GET /healthz 200 ")
    assert "ms request_id=edge-4f2a user_id=-" in line


def test_json_lines_when_configured(make_test_app, request_lines):
    app = make_test_app(plugins=[PROBE], **{"mercato.log_format": "json"})
    response = app.get("/probe/pid")
    [line] = request_lines()
    entry = json.loads(line)
    assert entry["method"] == "GET" and entry["path"] == "/probe/pid"
    assert entry["status"] == 200 and entry["route"] == "probe_pid"
    assert isinstance(entry["duration_ms"], float)
    assert entry["request_id"] == response.headers["X-Request-Id"]
    assert len(entry["request_id"]) == 32
    assert entry["user_id"] is None and entry["ts"].endswith("+00:00")


def test_a_posted_password_is_never_logged(app, request_lines, caplog):
    token = csrf_token(app)
    app.post(
        "/probe/login",
        {"email": "a@example.com", "password": PASSWORD, "csrf_token": token},
        status=401,
    )
    assert request_lines()[-1].startswith("POST /probe/login 401 ")
    assert PASSWORD not in caplog.text
    assert token not in caplog.text, "nor the CSRF token"


def test_tokens_in_the_query_string_or_in_the_path_are_never_logged(app, request_lines, caplog):
    app.get(f"/probe/reset/{TOKEN}?token={TOKEN}&next=/account")
    [line] = request_lines()
    assert line.startswith("GET /probe/reset/*** 200 ")
    assert TOKEN not in caplog.text
    assert "token=" not in caplog.text and "next=" not in caplog.text


def test_an_error_page_and_its_line_share_the_reference(app, request_lines):
    response = app.get("/probe/boom", status=500)
    reference = response.headers["X-Request-Id"]
    assert reference in response.text, "the shopper can quote it"
    assert "GET /probe/boom 500 " in request_lines()[-1]
    assert f"request_id={reference}" in request_lines()[-1]


def test_a_forged_request_id_is_replaced(app, request_lines):
    response = app.get("/healthz", headers={"X-Request-Id": 'x" user_id=admin'})
    assert response.headers["X-Request-Id"] != 'x" user_id=admin'
    assert "admin" not in request_lines()[-1]


def test_an_unknown_log_format_is_refused_at_start_up(make_test_app):
    from mercato import ConfigurationError

    with pytest.raises(ConfigurationError, match="mercato.log_format = 'xml' is not valid"):
        make_test_app(plugins=[], **{"mercato.log_format": "xml"})
