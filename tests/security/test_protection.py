"""Protection on every endpoint: CSRF, escaping, security headers, HTTPS, no inline script."""

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from mercato import ConfigurationError
from mercato.accounts.models import User
from mercato.testing import csrf_token, login

ACCOUNT_TEMPLATES = Path(__file__).resolve().parents[2] / "plugins" / "accounts" / "templates"

# ---------------------------------------------------------------------------
# CSRF
# ---------------------------------------------------------------------------

CSRF_MESSAGE = "This form has expired or was sent from another site."


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    app, customer_user, dbsession
):
    login(app, customer_user.email)

    missing = app.post("/account", {"name": "Mallory"}, status=400)
    wrong = app.post("/account", {"name": "Mallory", "csrf_token": "forged"}, status=400)

    for response in (missing, wrong):
        assert CSRF_MESSAGE in response.text
        assert "Please reload the page and try again." in response.text
    assert dbsession.get(User, customer_user.id).name == customer_user.name


def test_registration_and_login_need_the_token_too(app, customer_user, dbsession):
    app.post(
        "/register",
        {
            "name": "N",
            "email": "n@example.com",
            "password": "long password",
            "password_confirm": "long password",
        },
        status=400,
    )
    app.post(
        "/login", {"email": customer_user.email, "password": customer_user.password}, status=400
    )

    assert dbsession.scalar(select(User).where(User.email == "n@example.com")) is None
    assert app.get("/probe/session").json["user"] is None


def test_json_without_the_csrf_header_gets_a_json_400(app, customer_user):
    response = app.post_json(
        "/api/session/login",
        {"email": customer_user.email, "password": customer_user.password},
        status=400,
    )

    assert response.json["error"]["status"] == 400
    assert CSRF_MESSAGE in response.json["error"]["message"]
    assert app.get("/probe/session").json["user"] is None


# ---------------------------------------------------------------------------
# Escaping
# ---------------------------------------------------------------------------

XSS = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'


def test_a_script_in_a_name_is_shown_as_text(app, dbsession):
    app.post(
        "/register",
        {
            "name": XSS[:100],
            "email": "xss@example.com",
            "password": "long password",
            "password_confirm": "long password",
            "csrf_token": csrf_token(app),
        },
        status=303,
    )

    page = app.get("/account")

    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert page.html.find(id="f-name")["value"] == XSS[:100]


def test_a_script_typed_into_a_form_with_errors_is_shown_as_text(app):
    response = app.post(
        "/register",
        {"name": "ok", "email": XSS, "password": "x", "csrf_token": csrf_token(app)},
        status=400,
    )

    assert "<script>alert" not in response.text
    assert response.html.find(id="f-email")["value"] == XSS


def test_account_templates_have_no_inline_script_style_or_handlers():
    templates = list((ACCOUNT_TEMPLATES / "accounts").glob("*.jinja2"))
    assert templates
    for template in templates:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\sstyle\s*=", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name


# ---------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------


def csp(response) -> dict[str, list[str]]:
    policy = {}
    for directive in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = directive.split()
        policy[name] = sources
    return policy


@pytest.mark.parametrize(
    "path,status",
    [("/login", 200), ("/api/session/csrf", 200), ("/no-such-page", 404), ("/account", 303)],
)
def test_every_response_carries_the_security_headers(app, path, status):
    response = app.get(path, status=status)

    policy = csp(response)
    assert policy["script-src"] == ["'self'", "https://js.example.com"]  # + the probe's source
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_hsts_is_sent_over_https(app):
    response = app.get("/login", extra_environ={"wsgi.url_scheme": "https"})

    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_unsafe_csp_sources_are_refused_at_start_up(make_test_app):
    with pytest.raises(ConfigurationError, match="not allowed"):
        make_test_app(**{"mercato.csp.script-src": "'unsafe-inline'"})
    with pytest.raises(ConfigurationError, match="cannot be extended"):
        make_test_app(**{"mercato.csp.frame-ancestors": "https://evil.example"})


def test_the_store_owner_can_allow_another_origin(make_test_app):
    app = make_test_app(**{"mercato.csp.img-src": "https://images.example"})

    assert csp(app.get("/"))["img-src"] == ["'self'", "data:", "https://images.example"]


def test_require_https_redirects_http_but_not_health_checks(make_test_app):
    app = make_test_app(**{"mercato.require_https": "true"})

    redirect = app.get("/login?next=/account", status=301)
    assert redirect.location == "https://localhost/login?next=/account"
    assert app.post("/login", status=403).text.count("only accepts HTTPS") == 1
    app.get("/healthz", status=200)
    app.get("/login", extra_environ={"wsgi.url_scheme": "https"}, status=200)
