"""Customers (list, detail with their orders) and staff accounts (admins only): invite
by email, change role, disable — each taking effect on the person's sessions at once."""

import pytest
from sqlalchemy import select

from mercato.accounts.models import User
from mercato.testing import csrf_token, login

from .conftest import add_order, audit_entries, form_token, outbox_messages


def user(dbsession, email: str) -> User | None:
    dbsession.expire_all()
    return dbsession.scalar(select(User).where(User.email == email))


def test_customers_are_listed_with_their_orders_and_searchable(
    staff, db_engine, make_user, customer_user
):
    make_user("zoe@example.com", name="Zoe Quist")
    add_order(db_engine, "M-000001", total=4000, customer_id=customer_user.id)
    add_order(db_engine, "M-000002", total=1500, refunded=500, customer_id=customer_user.id)
    add_order(db_engine, "M-000003", status="cancelled", customer_id=customer_user.id)

    page = staff.get("/admin/customers")
    rows = {
        tr.select_one("td").select_one("a").text: [td.get_text(" ", strip=True) for td in tr("td")]
        for tr in page.html.select("main tbody tr")
    }
    assert set(rows) == {"Carla Customer", "Zoe Quist"}, "staff accounts are not customers"
    assert rows["Carla Customer"][2:4] == ["3", "€50.00"], (
        "3 orders; cancelled and refunds not spent"
    )
    found = staff.get("/admin/customers", {"q": "quist"})
    assert [a.text for a in found.html.select("main tbody td:first-child a")] == ["Zoe Quist"]


def test_a_customers_page_shows_their_orders_and_guest_orders_with_their_email(
    staff, db_engine, customer_user
):
    add_order(db_engine, "M-000001", customer_id=customer_user.id, email=customer_user.email)
    add_order(db_engine, "M-000002", email=customer_user.email)
    add_order(db_engine, "M-000003", email="someone.else@example.com")

    page = staff.get(f"/admin/customers/{customer_user.id}")

    orders = [a.text for a in page.html.select("#orders-title ~ div a")]
    assert sorted(orders) == ["M-000001", "M-000002"]
    assert "(as a guest)" in page.text
    assert page.html.select_one("#account-title") is None, "only admins change accounts"
    staff.get("/admin/customers/99999", status=404)


# ---------------------------------------------------------------------------
# Staff accounts
# ---------------------------------------------------------------------------


def invite(admin, status=303, **fields):
    page = admin.get("/admin/staff")
    return admin.post(
        "/admin/staff/invite", {"csrf_token": form_token(page), **fields}, status=status
    )


def test_an_admin_invites_staff_who_choose_a_password_from_the_email(
    admin, admin_user, make_shop, dbsession
):
    done = invite(admin, email="New.Person@Example.com", name="New Person", role="staff").follow()

    assert "new.person@example.com is invited as staff" in done.text
    invited = user(dbsession, "new.person@example.com")
    assert (invited.role, invited.name, invited.is_active) == ("staff", "New Person", True)
    [email] = outbox_messages(dbsession, "account.invited")
    assert email["email"] == "new.person@example.com"
    assert email["invited_by"] == "Ada Admin" and email["expires_in_hours"] == 72
    [entry] = audit_entries(dbsession)
    assert (entry.actor_email, entry.action, entry.object_id) == (
        admin_user.email,
        "staff.invite",
        "new.person@example.com",
    )

    newcomer = make_shop()
    link = email["set_password_url"].removeprefix("http://localhost")
    [form] = [f for f in newcomer.get(link).forms.values() if "password" in f.fields]
    form["password"] = form["password_confirm"] = "a brand new passphrase"
    form.submit(status=303)
    login(newcomer, "new.person@example.com", "a brand new passphrase")
    assert newcomer.get("/admin").status_int == 200
    assert newcomer.get(link, status=400), "the link works once"


def test_an_invitation_to_an_existing_account_is_refused(admin, customer_user, dbsession):
    refused = invite(admin, email=customer_user.email, name="Carla", role="staff", status=409)
    assert refused.html.select_one("#email-error").text == (
        "customer@example.com already has an account: change its role from the customer's page "
        "instead."
    )
    assert user(dbsession, customer_user.email).role == "customer"


def test_a_bad_invitation_form_says_what_to_fix(admin, dbsession):
    refused = invite(admin, email="not-an-email", name="", role="owner", status=400)
    errors = {p["id"]: p.text for p in refused.html.select(".field-error")}
    assert errors == {
        "email-error": "Please enter a valid email address.",
        "name-error": "Please fill this in.",
        "role-error": "Choose staff or admin.",
    }
    assert refused.html.find(id="email")["value"] == "not-an-email"
    assert outbox_messages(dbsession, "account.invited") == []


def change(admin, person_id: int, what: str, status=303, **fields):
    return admin.post(
        f"/admin/staff/{person_id}/{what}",
        {"csrf_token": csrf_token(admin), **fields},
        status=status,
    )


def test_a_role_change_ends_the_persons_sessions(admin, make_shop, staff_user, dbsession):
    theirs = make_shop()
    login(theirs, staff_user.email)
    assert theirs.get("/admin").status_int == 200

    done = change(admin, staff_user.id, "role", role="customer").follow()

    assert "staff@example.com is now customer." in done.text
    assert user(dbsession, staff_user.email).role == "customer"
    assert theirs.get("/admin", status=303).location.startswith("http://localhost/login")
    login(theirs, staff_user.email)
    theirs.get("/admin", status=403)
    assert audit_entries(dbsession)[-1].summary == "Role of staff@example.com: staff → customer"


def test_a_customer_is_promoted_from_their_page(admin, customer_user, dbsession):
    page = admin.get(f"/admin/customers/{customer_user.id}")
    form = page.forms[1]
    form["role"] = "staff"
    back = form.submit(status=303)
    assert back.location.endswith(f"/admin/customers/{customer_user.id}")
    assert user(dbsession, customer_user.email).role == "staff"


def test_a_disabled_account_is_logged_out_and_cannot_log_in(
    admin, make_shop, staff_user, dbsession
):
    theirs = make_shop()
    login(theirs, staff_user.email)

    done = change(admin, staff_user.id, "active", active="false").follow()

    assert "staff@example.com is disabled and logged out everywhere." in done.text
    assert theirs.get("/admin", status=303).location.startswith("http://localhost/login")
    token = csrf_token(theirs)
    theirs.post(
        "/login",
        {"email": staff_user.email, "password": staff_user.password, "csrf_token": token},
        status=400,
    )
    change(admin, staff_user.id, "active", active="true")
    assert user(dbsession, staff_user.email).is_active
    assert [e.action for e in audit_entries(dbsession)] == ["staff.disable", "staff.enable"]


@pytest.mark.parametrize(
    ("what", "fields", "message"),
    [
        ("role", {"role": "staff"}, "You cannot change the role of your own account"),
        ("active", {"active": "false"}, "You cannot disable your own account"),
    ],
)
def test_admins_cannot_lock_themselves_out(admin, admin_user, dbsession, what, fields, message):
    refused = change(admin, admin_user.id, what, status=409, **fields)
    assert message in refused.html.select_one("[role=alert]").text
    me = user(dbsession, admin_user.email)
    assert (me.role, me.is_active) == ("admin", True)


def test_an_unknown_role_is_refused(admin, staff_user, dbsession):
    refused = change(admin, staff_user.id, "role", role="owner", status=400)
    assert "Choose customer, staff or admin." in refused.text
    assert user(dbsession, staff_user.email).role == "staff"
