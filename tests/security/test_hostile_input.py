"""Hostile input on the composed shop: NUL bytes get one clear 400 at the edge, on every
route and in every part of a request (never a 500 from PostgreSQL), and nothing a
client sends can forge a line in the text log."""

import logging
import re

import pytest
from pyramid.interfaces import IRoutesMapper

MESSAGE = "contains a character we cannot accept"


def assert_refused(response):
    assert response.status_int == 400
    if response.content_type == "application/json":
        assert MESSAGE in response.json["error"]["message"]
    else:
        assert MESSAGE in response.text
        assert "Traceback" not in response.text


def nul_path(pattern: str) -> str:
    """A path of ``pattern`` with every placeholder ``M-1%00``."""
    path = "/" + re.sub(r"\{[^}]*\}|\*\w+", "M-1%00", pattern).lstrip("/")
    return path if "%00" in path else f"{path}?q=M-1%00"


def routes(app) -> list[str]:
    mapper = app.registry.getUtility(IRoutesMapper)
    return [route.pattern for route in mapper.get_routes()]


def test_a_nul_byte_in_the_path_of_any_route_is_a_400(demo_shop, demo_staff):
    patterns = routes(demo_shop.app)
    assert "/orders/{token}" in patterns and "/admin/orders/{number}" in patterns
    for pattern in patterns:
        get = demo_staff.app.get(nul_path(pattern), expect_errors=True)
        assert get.status_int == 400, f"GET {pattern}: {get.status}"
        assert_refused(get)
        post = demo_staff.app.post(
            nul_path(pattern), {"csrf_token": demo_staff.token}, expect_errors=True
        )
        assert post.status_int == 400, f"POST {pattern}: {post.status}"


@pytest.mark.parametrize(
    "path",
    [
        "/orders/abc%00",
        "/checkout/done/abc%00",
        "/account/orders/M-1%00",
        "/admin/orders/M-000001%00",
        "/p/tee%00",
        "/search?q=tee%00",
    ],
)
def test_order_and_catalog_pages_refuse_a_nul_byte(demo_staff, path):
    assert_refused(demo_staff.app.get(path, status=400))


def test_the_api_refuses_a_nul_byte_in_json(demo_shopper):
    app = demo_shopper.app
    response = app.get("/api/orders/abc%00", status=400)
    assert response.json["error"]["status"] == 400
    assert_refused(response)

    token = demo_shopper.token
    posted = app.post_json(
        "/api/cart/lines",
        {"sku": "a\u0000b", "quantity": 1},
        headers={"X-CSRF-Token": token},
        status=400,
    )
    assert_refused(posted)
    assert demo_shopper.cart() == {}


def test_json_that_only_looks_like_a_nul_escape_is_accepted(demo_shopper):
    """The edge parses a JSON body only when it holds the escape ``\\u0000``; one that
    holds it as text (an escaped backslash before ``u0000``) carries no NUL and goes
    on to the view, which answers for the SKU it does not know."""
    posted = demo_shopper.app.post(
        "/api/cart/lines",
        '{"sku": "MUG\\\\u0000", "quantity": 1}',
        content_type="application/json",
        headers={"X-CSRF-Token": demo_shopper.token},
        status=400,
    )
    assert posted.json["error"]["message"] != MESSAGE
    assert posted.json["error"]["message"].startswith("We could not find a product")


def test_forms_refuse_a_nul_byte(demo_shopper, demo_staff, dbsession):
    added = demo_shopper.app.post(
        "/cart/add", {"sku": "TEE\x00", "quantity": 1, "csrf_token": demo_shopper.token}, status=400
    )
    assert_refused(added)

    category = demo_staff.app.post(
        "/admin/catalog/categories",
        {"name": "Sh\x00oes", "slug": "", "parent": "", "csrf_token": demo_staff.token},
        status=400,
    )
    assert_refused(category)


def test_a_nul_byte_in_a_cookie_or_header_is_a_400(demo_shopper):
    app = demo_shopper.app
    app.set_cookie("mercato_cart", "g\x00abc")
    assert_refused(app.get("/cart", status=400))
    app.reset()
    assert_refused(app.get("/", headers={"X-Anything": "a\x00b"}, status=400))


def test_files_may_hold_nul_bytes(demo_staff):
    """An upload's bytes are not text: only its form fields are checked."""
    response = demo_staff.app.post(
        "/admin/catalog/csv",
        {"csrf_token": demo_staff.token},
        upload_files=[("file", "products.csv", b"slug,name\x00\n")],
        expect_errors=True,
    )
    assert MESSAGE not in response.text


# ---------------------------------------------------------------------------
# Log forging
# ---------------------------------------------------------------------------

FORGED = "%0d%0aGET%20/admin%20200%200.1ms%20request_id=forged"


def test_a_path_cannot_forge_a_request_log_line(demo_shopper, caplog):
    caplog.set_level(logging.INFO, logger="mercato.requests")
    demo_shopper.app.get(f"/nowhere{FORGED}", status=404)
    lines = caplog.text.splitlines()
    assert not any(line.startswith("GET /admin 200") for line in lines), caplog.text
    assert "/nowhere\\x0d\\x0aGET /admin 200" in caplog.text


def test_a_path_cannot_forge_an_error_log_line(make_test_app, caplog):
    app = make_test_app(plugins=["tests.security.exploding"])
    with caplog.at_level(logging.INFO, logger="mercato"):
        app.get(f"/explode/x{FORGED}", status=500)
    unhandled = [r for r in caplog.records if r.getMessage().startswith("unhandled error")]
    assert unhandled, caplog.text
    assert "\r" not in unhandled[0].getMessage() and "\n" not in unhandled[0].getMessage()
    assert not any(line.startswith("GET /admin 200") for line in caplog.text.splitlines())
    assert "/explode/x\\x0d\\x0aGET /admin 200" in caplog.text


def test_the_text_request_log_escapes_control_characters_in_the_message(app, caplog):
    caplog.set_level(logging.INFO, logger="mercato.requests")
    app.get("/tab%09bell%07", status=404)
    [line] = [r.getMessage() for r in caplog.records if r.name == "mercato.requests"]
    assert line.startswith("GET /tab\\x09bell\\x07 404 ")


def test_a_checkout_error_a_plugin_raises_anywhere_is_its_message_never_a_500(make_test_app):
    app = make_test_app(plugins=["tests.security.refusing"])

    page = app.get("/refuse", status=400)
    down = app.get("/refuse?down=1", headers={"Accept": "application/json"}, status=503)

    assert "Please choose a shipping method." in page.text and "<html" in page.text
    assert down.json["error"] == {
        "status": 503,
        "message": "We could not calculate the tax right now.",
    }
