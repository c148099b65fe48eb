"""The code field the plugin adds to the cart page through ``mercato_render_slot``."""

import pytest
from promotions_testdata import PLUGINS, add_code

from mercato.testing import csrf_token


@pytest.fixture
def mercato_plugins():
    return PLUGINS


def code_form(page):
    return next(form for form in page.forms.values() if form.action == "/promotions/code")


def test_mercato_render_slot_puts_a_labelled_code_field_on_the_cart_page(app):
    page = app.get("/standin/cart", params={"MUG": 1})

    field = page.html.select_one("section.promotions-field")
    assert field is not None
    assert field.select_one("label[for=promotions-code]").text == "Code"
    form = code_form(page)
    assert form.method.upper() == "POST"
    assert form["next"].value == "/standin/cart?MUG=1"
    assert form["csrf_token"].value == csrf_token(app)


def test_mercato_render_slot_links_the_plugin_stylesheet_from_the_head(app):
    page = app.get("/standin/cart")
    link = page.html.select_one('head link[href*="promotions.css"]')
    assert link is not None
    assert app.get(link["href"]).content_type == "text/css"


def test_shopper_applies_a_code_with_the_field_and_sees_the_discount(app, dbsession):
    add_code(dbsession, "SUMMER10", percent=10)
    page = app.get("/standin/cart", params={"MUG": 2})
    form = code_form(page)
    form["code"] = "summer10"

    after = form.submit(status=303).follow()

    assert "Discount code SUMMER10 applied." in after.text
    assert [row.get_text(" ", strip=True) for row in after.html.select("tr.adjustment")] == [
        "Discount SUMMER10 -€2.50"
    ]
    assert after.html.select_one("#total").text == "€22.50"
    assert "Remove code" in after.text


def test_refused_code_is_shown_next_to_the_field_with_what_was_typed(app):
    form = code_form(app.get("/standin/cart?MUG=1"))
    form["code"] = "typo10"

    after = form.submit(status=303).follow()

    field = after.html.select_one("#promotions-code")
    assert field["value"] == "typo10"
    assert field["aria-invalid"] == "true"
    assert after.html.select_one("#promotions-code-error").text == (
        "TYPO10 is not a valid discount code."
    )


def test_removing_the_code_removes_the_discount(app, dbsession):
    add_code(dbsession, "FIVE", amount=500)
    form = code_form(app.get("/standin/cart?POSTER=1"))
    form["code"] = "FIVE"
    page = form.submit().follow()
    remove = next(f for f in page.forms.values() if f.action == "/promotions/code/remove")

    after = remove.submit(status=303).follow()

    assert "Discount code removed." in after.text
    assert after.html.select("tr.adjustment") == []
    assert after.html.select_one("#total").text == "€30.00"


def test_code_posted_without_csrf_token_is_refused_and_not_applied(app, dbsession):
    add_code(dbsession, "SUMMER10", percent=10)
    app.get("/standin/cart")

    response = app.post("/promotions/code", {"code": "SUMMER10"}, status=400)

    assert "reload the page" in response.text
    assert app.get("/api/promotions/code").json == {"code": None}


def test_field_sends_the_shopper_back_only_to_a_page_of_this_shop(app):
    token = csrf_token(app)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = app.post("/promotions/code", {"code": "X", "next": target, "csrf_token": token})
        assert response.location == "http://localhost/"


def test_guessing_codes_is_slowed_down_per_client(make_test_app, dbsession):
    app = make_test_app(plugins=PLUGINS, **{"mercato.ratelimit.promotions.code": "3/hour"})
    add_code(dbsession, "REAL", percent=10)
    token = csrf_token(app)
    for guess in ("AAAA", "BBBB", "CCCC"):
        app.post("/promotions/code", {"code": guess, "csrf_token": token}, status=303)

    blocked = app.post("/promotions/code", {"code": "REAL", "csrf_token": token}, status=429)

    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many attempts" in blocked.text
    assert app.get("/api/promotions/code").json == {"code": None}
