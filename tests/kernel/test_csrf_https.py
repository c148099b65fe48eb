"""CSRF for JSON clients over HTTPS: the token is what counts; a foreign Origin is refused."""

HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "shop.example"}


def token(app) -> str:
    return app.get("/api/session/csrf", extra_environ=HTTPS).json["csrf_token"]


def test_mobile_client_with_token_and_no_origin_is_accepted_over_https(make_test_app):
    app = make_test_app()
    response = app.post_json(
        "/api/session/logout", {}, headers={"X-CSRF-Token": token(app)}, extra_environ=HTTPS
    )
    assert response.json == {"ok": True}


def test_foreign_origin_is_refused_even_with_the_token(make_test_app):
    app = make_test_app()
    response = app.post_json(
        "/api/session/logout",
        {},
        headers={"X-CSRF-Token": token(app), "Origin": "https://evil.example"},
        extra_environ=HTTPS,
        status=400,
    )
    assert "sent from another site" in response.json["error"]["message"]


def test_missing_token_is_refused_over_https(make_test_app):
    app = make_test_app()
    token(app)
    response = app.post_json("/api/session/logout", {}, extra_environ=HTTPS, status=400)
    assert "expired" in response.json["error"]["message"]
