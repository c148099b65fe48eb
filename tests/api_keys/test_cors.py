"""CORS for pages served from another origin (mercato.cors.origins), spoken to over
HTTP as a browser does: allowed origins get their preflight and their answers' CORS
headers, other origins none; and over HTTPS a listed origin passes the CSRF check."""

import http.client
from urllib.parse import urlsplit

import pytest

from mercato import ConfigurationError, make_app
from mercato.testing import base_settings

STOREFRONT = "http://127.0.0.1:18201"
OTHER = "http://127.0.0.1:18202"
ORIGINS = f"{STOREFRONT} https://shop.example"


@pytest.fixture
def cors_shop(key_shop):
    return key_shop(**{"mercato.cors.origins": ORIGINS})


def call(shop, method: str, path: str, headers: dict) -> http.client.HTTPResponse:
    address = urlsplit(shop.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_an_allowed_origin_reads_answers_with_credentials(cors_shop):
    answer = call(cors_shop, "GET", "/api/products", {"Origin": STOREFRONT})
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == STOREFRONT
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in answer.headers["Vary"]
    assert "Retry-After" in answer.headers["Access-Control-Expose-Headers"]
    # Errors too: a page must be able to read why it was refused.
    refused = call(cors_shop, "GET", "/api/staff/orders/M-1", {"Origin": STOREFRONT})
    assert refused.status == 401
    assert refused.headers["Access-Control-Allow-Origin"] == STOREFRONT


def test_an_allowed_origins_preflight_is_answered(cors_shop):
    answer = call(
        cors_shop,
        "OPTIONS",
        "/api/cart/lines",
        {
            "Origin": STOREFRONT,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-csrf-token",
        },
    )
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Origin"] == STOREFRONT
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip() for h in answer.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"Content-Type", "Authorization", "Idempotency-Key", "X-CSRF-Token"}
    assert "Origin" in answer.headers["Vary"]


def test_another_origin_gets_no_cors_headers(cors_shop):
    answer = call(cors_shop, "GET", "/api/products", {"Origin": OTHER})
    assert answer.status == 200  # the browser, not the shop, keeps it from the page
    assert answer.headers["Access-Control-Allow-Origin"] is None
    assert answer.headers["Access-Control-Allow-Credentials"] is None
    assert "Origin" in answer.headers["Vary"]
    preflight = call(
        cors_shop,
        "OPTIONS",
        "/api/cart/lines",
        {"Origin": OTHER, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 403
    assert preflight.headers["Access-Control-Allow-Origin"] is None
    # Outside /api, even a listed origin gets none.
    page = call(cors_shop, "GET", "/", {"Origin": STOREFRONT})
    assert page.headers["Access-Control-Allow-Origin"] is None


def test_without_the_setting_no_origin_gets_cors_headers(shop):
    answer = call(shop, "GET", "/api/products", {"Origin": STOREFRONT})
    assert answer.headers["Access-Control-Allow-Origin"] is None


def test_a_listed_origin_passes_the_csrf_check_over_https_and_others_do_not(cors_shop):
    from webtest import TestApp

    https = {"wsgi.url_scheme": "https", "HTTP_HOST": "api.example", "REMOTE_ADDR": "127.0.0.1"}
    browser = TestApp(cors_shop.app, extra_environ=https)
    token = browser.get("/api/session/csrf").json["csrf_token"]
    body = {"sku": "TEE", "quantity": 1}
    headers = {"X-CSRF-Token": token, "Origin": "https://shop.example"}
    browser.post_json("/api/cart/lines", body, headers=headers, status=(200, 201))
    headers["Origin"] = "https://evil.example"
    browser.post_json("/api/cart/lines", body, headers=headers, status=400)


@pytest.mark.parametrize(
    "origins", ["*", "https://shop.example/path", "shop.example", "ftp://shop.example"]
)
def test_an_origin_setting_that_is_not_an_origin_stops_the_app(
    origins, migrated_database, redis_url
):
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.cors.origins": origins,
        }
    )
    with pytest.raises(ConfigurationError, match="mercato.cors.origins"):
        make_app(settings, environ={})
