"""Who may use the admin: every route under /admin, the kernel's and the plugins', is
walked as a guest (sent to log in) and as a customer (403); staff reach the shop's
pages, only admins manage staff; plugins join the menu and the dashboard by hooks."""

import re

import pytest
from pyramid.interfaces import IRoutesMapper

from mercato.testing import csrf_token, login

from .conftest import PLUGINS

ADMIN_PLUGIN = "tests.admin.admin_plugin"


def admin_paths(testapp) -> dict[str, str]:
    """``{route name: a path}`` for every route whose pattern starts with /admin, its
    placeholders filled with ``1``."""
    mapper = testapp.app.registry.getUtility(IRoutesMapper)
    paths = {}
    for route in mapper.get_routes():
        if route.pattern.startswith("/admin"):
            names = re.findall(r"\{(\w+)", route.pattern)
            paths[route.name] = route.generate({name: "1" for name in names})
    return paths


def answers(testapp, path: str, expected: int):
    """The answer to a GET, or, for a route with POST views only, to a POST (with the
    session's CSRF token, so that only the permission can refuse it)."""
    response = testapp.get(path, expect_errors=True)
    if response.status_int == 404:
        token = csrf_token(testapp)
        response = testapp.post(path, {"csrf_token": token}, expect_errors=True)
    assert response.status_int == expected, f"{path}: {response.status}"
    return response


@pytest.fixture
def walked_app(make_shop):
    """The shop with every plugin that has staff pages (the promotions example too)."""
    return make_shop(plugins=[*PLUGINS, "promotions"])


@pytest.fixture
def extended(make_shop):
    """The shop with a plugin of its own that joins the admin."""
    return make_shop(plugins=[*PLUGINS, ADMIN_PLUGIN])


def test_every_admin_route_sends_a_guest_to_log_in(walked_app):
    paths = admin_paths(walked_app)
    assert {"admin_dashboard", "admin_orders", "admin_order_refund", "admin_staff"} <= set(paths)
    assert {"catalog_admin", "promotions_staff"} <= set(paths), "plugins' staff pages walked too"
    for path in paths.values():
        response = answers(walked_app, path, 303)
        assert response.location.startswith("http://localhost/login"), path


def test_every_admin_route_refuses_a_customer(walked_app, customer_user):
    login(walked_app, customer_user.email)
    paths = admin_paths(walked_app)
    assert len(paths) >= 25
    for path in paths.values():
        answers(walked_app, path, 403)


def test_staff_reach_the_shops_pages_but_not_staff_management(staff):
    for path in ("/admin", "/admin/orders", "/admin/customers", "/admin/outbox", "/admin/audit"):
        assert staff.get(path).status_int == 200, path
    assert staff.get("/admin/plugins").status_int == 200
    staff.get("/admin/staff", status=403)
    staff.post("/admin/staff/invite", {"csrf_token": csrf_token(staff)}, status=403)
    menu = [a.text for a in staff.get("/admin").html.select("nav.admin-nav a")]
    assert "Staff" not in menu


def test_admins_manage_staff(admin):
    assert admin.get("/admin/staff").status_int == 200
    menu = [a.text for a in admin.get("/admin").html.select("nav.admin-nav a")]
    assert menu[-1] == "Staff"


def test_admin_pages_are_private_and_marked_current(staff):
    page = staff.get("/admin/orders")
    assert "no-store" in page.headers["Cache-Control"]
    [current] = page.html.select('nav.admin-nav a[aria-current="page"]')
    assert current.text == "Orders"


def test_a_form_without_its_csrf_token_is_refused(admin):
    refused = admin.post("/admin/staff/invite", {"email": "x@example.com"}, status=400)
    assert "This form has expired" in refused.text


def test_mercato_admin_links_put_plugin_pages_in_the_menu_for_those_allowed(
    extended, staff_user, admin_user
):
    shop = extended
    login(shop, staff_user.email)
    menu = {a.text: a["href"] for a in shop.get("/admin").html.select("nav.admin-nav a")}
    assert menu["Products"] == "/admin/catalog"
    assert menu["Categories"] == "/admin/catalog/categories"
    assert menu["Suppliers"] == "/admin/suppliers"
    assert "Payouts" not in menu, "a link whose permission staff lack is not shown"
    labels = list(menu)
    assert labels.index("Customers") < labels.index("Products") < labels.index("Emails")

    login(shop, admin_user.email)
    menu = [a.text for a in shop.get("/admin").html.select("nav.admin-nav a")]
    assert "Payouts" in menu


def test_mercato_admin_links_bring_the_promotions_pages_into_the_admin_look(walked_app, staff_user):
    login(walked_app, staff_user.email)
    page = walked_app.get("/admin/promotions")
    menu = {a.text: a for a in page.html.select("nav.admin-nav a")}
    assert menu["Discount codes"]["href"] == "/admin/promotions"
    assert menu["Discount codes"]["aria-current"] == "page"
    assert page.html.select_one("body.admin h1").text == "Discount codes"


def test_mercato_admin_widgets_add_panels_to_the_dashboard(extended, staff_user):
    shop = extended
    login(shop, staff_user.email)
    page = shop.get("/admin")
    assert page.html.select_one(".payout").text == "Next payout on Friday"
    assert "&lt;script&gt;alert(&#39;plain text is escaped&#39;)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
