"""Staff manage discount codes under /admin/promotions; the permission
``promotions.manage`` (declared through ``mercato_permissions``) keeps everyone else out."""

from decimal import Decimal

import pytest
from mercato_promotions.models import DiscountCode
from promotions_testdata import add_code
from sqlalchemy import select

from mercato.testing import login

STAFF_FORM = "promotions-staff-form"


@pytest.fixture
def mercato_plugins():
    return ["promotions"]


@pytest.fixture
def staff(app, staff_user):
    login(app, staff_user.email)
    return app


def stored(dbsession, code) -> DiscountCode | None:
    dbsession.expire_all()
    return dbsession.scalar(select(DiscountCode).where(DiscountCode.code == code))


@pytest.mark.parametrize("path", ["/admin/promotions", "/admin/promotions/new"])
def test_guest_is_sent_to_log_in(app, path):
    response = app.get(path, status=303)
    assert response.location.startswith("http://localhost/login?next=")


def test_mercato_permissions_keeps_customers_out_of_staff_pages(app, customer_user, dbsession):
    promo = add_code(dbsession, "SECRET", percent=10)
    login(app, customer_user.email)
    for path in ("/admin/promotions", "/admin/promotions/new", f"/admin/promotions/{promo.id}"):
        assert app.get(path, status=403).status_int == 403


def test_staff_creates_a_code_with_the_form(staff, dbsession):
    form = staff.get("/admin/promotions/new").forms[STAFF_FORM]
    form["code"] = "winter15"
    form["kind"] = "percent"
    form["value"] = "15"
    form["minimum_order"] = "40.00"
    form["expires_at"] = "2099-01-31T23:59"
    form["max_uses"] = "100"

    listing = form.submit(status=303).follow()

    assert "Discount code WINTER15 saved." in listing.text
    row = listing.html.select_one("tbody tr").get_text(" ", strip=True)
    assert row.startswith("WINTER15 15% €40.00")
    assert "0 / 100" in row
    promo = stored(dbsession, "WINTER15")
    assert (promo.kind, promo.percent, promo.minimum_order, promo.max_uses, promo.active) == (
        "percent",
        Decimal("15.00"),
        4000,
        100,
        True,
    )


def test_staff_form_shows_each_error_next_to_its_field_and_keeps_what_was_typed(staff, dbsession):
    form = staff.get("/admin/promotions/new").forms[STAFF_FORM]
    form["code"] = "TEN"
    form["kind"] = "percent"
    form["value"] = "150"
    form["starts_at"] = "2099-02-01T00:00"
    form["expires_at"] = "2099-01-01T00:00"

    page = form.submit(status=400)

    errors = {p["id"]: p.text for p in page.html.select("p.field-error")}
    assert errors == {
        "promo-value-error": "Give a percentage above 0 and at most 100, like 10 or 12.5.",
        "promo-expires_at-error": "The code must expire after it starts.",
    }
    assert page.html.select_one("#promo-value")["value"] == "150"
    assert page.html.select_one("#promo-value")["aria-invalid"] == "true"
    assert stored(dbsession, "TEN") is None


def test_a_code_that_exists_already_is_a_form_error(staff, dbsession):
    add_code(dbsession, "TAKEN", percent=5)
    form = staff.get("/admin/promotions/new").forms[STAFF_FORM]
    form["code"] = "taken"
    form["kind"] = "fixed"
    form["value"] = "5.00"

    page = form.submit(status=400)

    assert page.html.select_one("#promo-code-error").text == "There is already a code TAKEN."


def test_staff_edits_a_code_but_cannot_limit_it_below_its_uses(staff, dbsession):
    promo = add_code(dbsession, "EDITME", amount=500, max_uses=10, times_used=4)
    form = staff.get(f"/admin/promotions/{promo.id}").forms[STAFF_FORM]
    assert (form["value"].value, form["max_uses"].value) == ("5.00", "10")

    form["max_uses"] = "3"
    refused = form.submit(status=400)
    assert "This code was already used 4 times." in refused.text

    form = refused.forms[STAFF_FORM]
    form["max_uses"] = "6"
    form["active"] = False
    form.submit(status=303)

    promo = stored(dbsession, "EDITME")
    assert (promo.max_uses, promo.times_used, promo.active) == (6, 4, False)


def test_unknown_code_page_is_a_404(staff):
    staff.get("/admin/promotions/999999", status=404)


@pytest.mark.parametrize("path", ["/admin/promotions", "/admin/promotions/new"])
def test_staff_pages_do_not_exist_in_a_shop_without_the_admin(make_test_app, staff_user, path):
    app = make_test_app(plugins=["promotions", "no:admin"])
    login(app, staff_user.email)
    assert app.get(path, status="*").status_int == 404
