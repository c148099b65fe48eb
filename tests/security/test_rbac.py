"""Roles and permissions (kernel's and plugins'), the forbidden answers, per-object order
rules and the refusal of open redirects."""

import pytest

from mercato import ConfigurationError
from mercato.testing import csrf_token, login

PAGES = {
    "/probe/back-office": "back office",  # admin.access: staff, admin
    "/probe/staff-admin": "staff admin",  # staff.manage: admin
    "/probe/customers": "customers only",  # probe.customers (plugin): customer, admin
    "/probe/plugin-staff": "plugin staff",  # probe.staff (plugin): staff, admin
}
ALLOWED = {
    "customer": {"/probe/customers"},
    "staff": {"/probe/back-office", "/probe/plugin-staff"},
    "admin": set(PAGES),
}


@pytest.mark.parametrize("role", ["customer", "staff", "admin"])
def test_each_role_reaches_exactly_its_pages(app, make_user, role):
    user = make_user(f"{role}@example.com", role)
    login(app, user.email)

    for path, text in PAGES.items():
        if path in ALLOWED[role]:
            assert app.get(path).text == text
        else:
            page = app.get(path, status=403)
            assert "Not allowed" in page.text
            assert "You do not have permission to do that." in page.text


def test_a_guest_is_sent_to_log_in_and_comes_back(app, staff_user):
    redirect = app.get("/probe/back-office?tab=2", status=303)

    assert redirect.location == "http://localhost/login?next=%2Fprobe%2Fback-office%3Ftab%3D2"
    response = app.post(
        "/login",
        {
            "email": staff_user.email,
            "password": staff_user.password,
            "next": "/probe/back-office?tab=2",
            "csrf_token": csrf_token(app),
        },
        status=303,
    )
    assert response.location == "http://localhost/probe/back-office?tab=2"
    assert response.follow().text == "back office"


def test_api_answers_401_to_guests_and_403_to_the_wrong_role_in_json(app, customer_user):
    guest = app.get("/api/probe/back-office", status=401)
    assert guest.json == {"error": {"status": 401, "message": "Please log in first."}}

    login(app, customer_user.email)
    denied = app.get("/api/probe/back-office", status=403)
    assert denied.json["error"]["status"] == 403


def test_a_permission_nobody_declared_is_denied_even_to_admins(app, admin_user):
    login(app, admin_user.email)

    app.get("/probe/undeclared", status=403)


def test_a_plugin_naming_an_unknown_role_stops_the_app(make_test_app):
    with pytest.raises(ConfigurationError, match="unknown role.*superuser"):
        make_test_app(plugins=["tests.security.bad_permissions"])


# ---------------------------------------------------------------------------
# Orders: can_view_order
# ---------------------------------------------------------------------------


def visible(app, owner=None, token=None):
    params = {k: v for k, v in {"owner": owner, "token": token}.items() if v is not None}
    return app.get("/probe/order", params=params).json["visible"]


def test_a_customer_sees_only_their_own_orders(app, customer_user, make_user):
    other = make_user("other@example.com")
    login(app, customer_user.email)

    assert visible(app, owner=customer_user.id)
    assert not visible(app, owner=other.id)
    assert not visible(app, owner=other.id, token="wrong")


def test_a_guest_order_opens_only_with_its_secret_link(app):
    assert visible(app, token="s3cret")
    assert not visible(app)
    assert not visible(app, token="s3cre")
    assert not visible(app, token="")


def test_the_secret_link_opens_a_customers_order_too_and_staff_see_every_order(
    app, customer_user, staff_user
):
    assert visible(app, owner=customer_user.id, token="s3cret")
    assert not visible(app, owner=customer_user.id)

    login(app, staff_user.email)
    assert visible(app, owner=customer_user.id)
    assert visible(app)


# ---------------------------------------------------------------------------
# Open redirects
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/account\r\nSet-Cookie: x=1",
        "/\tevil.example",
    ],
)
def test_login_never_redirects_to_another_site(app, customer_user, target):
    response = app.post(
        "/login",
        {
            "email": customer_user.email,
            "password": customer_user.password,
            "next": target,
            "csrf_token": csrf_token(app),
        },
        status=303,
    )

    assert response.location == "http://localhost/account"


def test_a_logged_in_visit_to_login_ignores_a_foreign_next(app, customer_user):
    login(app, customer_user.email)

    assert app.get("/login?next=//evil.example", status=303).location == (
        "http://localhost/account"
    )
    assert app.get("/login?next=/probe/customers", status=303).location == (
        "http://localhost/probe/customers"
    )
