"""Accounts through the storefront: register, log in and out, passwords, profile, addresses."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from mercato.accounts.models import Address, User
from mercato.outbox import OutboxMessage
from mercato.testing import csrf_token, login


def form(app, **data):
    return {**data, "csrf_token": csrf_token(app)}


def outbox(dbsession, event):
    dbsession.expire_all()
    return [
        m.payload
        for m in dbsession.scalars(
            select(OutboxMessage).where(OutboxMessage.event == event).order_by(OutboxMessage.id)
        )
    ]


def register(app, email="new@example.com", password="a long enough password", name="Nina", **kw):
    return app.post(
        "/register",
        form(app, name=name, email=email, password=password, password_confirm=password),
        **kw,
    )


# ---------------------------------------------------------------------------
# Register
# ---------------------------------------------------------------------------


def test_register_creates_the_account_logs_in_and_emails_through_the_outbox(app, dbsession):
    response = register(app, email="Nina@Example.com")

    assert response.status_int == 303
    assert response.location.endswith("/account")
    page = response.follow()
    assert "nina@example.com" in page.text
    assert "Welcome! Your account is ready." in page.text
    user = dbsession.scalar(select(User))
    assert (user.email, user.name, user.role) == ("nina@example.com", "Nina", "customer")
    assert user.password_hash.startswith("$2b$04$")  # the cost from the settings
    [created] = outbox(dbsession, "account.created")
    assert created["email"] == "nina@example.com"
    assert created["name"] == "Nina"


def test_register_refuses_an_email_that_exists_in_another_case(app, customer_user, dbsession):
    response = register(app, email=customer_user.email.upper(), name="Someone Else", status=400)

    field = response.html.find(id="e-email")
    assert "An account with this email exists" in field.text
    assert response.html.find(id="f-name")["value"] == "Someone Else"
    assert response.html.find(id="f-email")["value"] == customer_user.email.upper()
    assert dbsession.scalar(select(User).where(User.name == "Someone Else")) is None


def test_register_shows_each_error_next_to_its_field_and_keeps_the_values(app, dbsession):
    response = app.post(
        "/register",
        form(app, name="", email="not-an-email", password="short", password_confirm="short"),
        status=400,
    )

    assert response.html.find(id="e-name").text == "Please fill this in."
    assert response.html.find(id="e-email").text == "Please enter a valid email address."
    assert response.html.find(id="e-password").text == "Use at least 8 characters."
    assert response.html.find(id="f-email")["value"] == "not-an-email"
    assert response.html.find(id="f-email")["aria-invalid"] == "true"
    # A password is never sent back to the browser.
    assert "value" not in response.html.find(id="f-password").attrs
    assert dbsession.scalar(select(User)) is None


def test_register_refuses_two_different_passwords(app):
    response = app.post(
        "/register",
        form(
            app,
            name="Nina",
            email="nina@example.com",
            password="one long password",
            password_confirm="another long password",
        ),
        status=400,
    )

    assert response.html.find(id="e-password_confirm").text == "The two passwords do not match."


# ---------------------------------------------------------------------------
# Log in, log out
# ---------------------------------------------------------------------------


def test_login_with_the_right_password_opens_the_account(app, customer_user, dbsession):
    response = login(app, customer_user.email, customer_user.password)

    assert response.location.endswith("/account")
    assert customer_user.email in app.get("/account").text
    assert dbsession.get(User, customer_user.id).last_login_at is not None


def test_login_is_case_insensitive_on_the_email(app, customer_user):
    login(app, "  " + customer_user.email.upper(), customer_user.password)

    assert app.get("/probe/session").json["user"] == customer_user.email


def test_wrong_password_and_unknown_email_get_the_same_answer(app, customer_user):
    wrong = app.post(
        "/login", form(app, email=customer_user.email, password="wrong password"), status=400
    )
    unknown = app.post(
        "/login", form(app, email="nobody@example.com", password="wrong password"), status=400
    )

    for response in (wrong, unknown):
        assert response.html.find(role="alert").text == "Email or password is incorrect."
        assert response.html.find(id="f-email") is not None
    assert app.get("/probe/session").json["user"] is None


def test_an_inactive_account_cannot_log_in(app, customer_user, dbsession):
    dbsession.get(User, customer_user.id).is_active = False
    dbsession.commit()

    response = app.post(
        "/login", form(app, email=customer_user.email, password=customer_user.password), status=400
    )

    assert response.html.find(role="alert").text == "Email or password is incorrect."


def test_login_goes_back_to_the_page_that_asked_for_it(app, customer_user):
    redirect = app.get("/account/password", status=303)
    assert redirect.location.endswith("/login?next=%2Faccount%2Fpassword")
    page = redirect.follow()
    assert page.html.find("input", attrs={"name": "next"})["value"] == "/account/password"

    response = app.post(
        "/login",
        form(
            app,
            email=customer_user.email,
            password=customer_user.password,
            next="/account/password",
        ),
        status=303,
    )

    assert response.location.endswith("/account/password")


def test_logout_ends_the_session(app, customer_user):
    login(app, customer_user.email)

    response = app.post("/logout", form(app), status=303)

    assert response.location.endswith("/")
    assert app.get("/probe/session").json["user"] is None
    assert app.get("/account", status=303).location.startswith("http://localhost/login")


def test_the_header_links_to_log_in_and_to_the_account(app, customer_user):
    assert "Log in" in app.get("/").html.select_one(".site-header").text

    login(app, customer_user.email)

    header = app.get("/").html.select_one(".site-header")
    assert header.select_one("a[href='/account']").text == "Your account"
    assert "Log in" not in header.text


def test_a_shop_without_the_account_pages_still_serves_its_pages(make_test_app):
    """``no:accounts`` (a headless shop): no account links in the header, and a guest
    who needs to log in gets a 401 rather than a redirect to a page that is not there."""
    shop = make_test_app(plugins=["tests.accounts.probe", "no:accounts"])

    header = shop.get("/").html.select_one(".header-tools")

    assert "Log in" not in header.text and "account" not in header.text.lower()
    shop.get("/login", status=404)
    shop.get("/probe/back-office", status=401)


# ---------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------


def test_a_passphrase_longer_than_72_bytes_is_used_whole(app):
    passphrase = "correct horse battery staple " * 4  # 116 bytes
    same_first_72_bytes = passphrase[:72] + "something else entirely"
    assert passphrase.encode()[:72] == same_first_72_bytes.encode()[:72]
    register(app, email="long@example.com", password=passphrase)
    app.post("/logout", form(app))

    app.post(
        "/login", form(app, email="long@example.com", password=same_first_72_bytes), status=400
    )
    login(app, "long@example.com", passphrase)


def test_change_password_needs_the_current_one(app, customer_user):
    login(app, customer_user.email)

    response = app.post(
        "/account/password",
        form(
            app,
            current_password="not my password",
            password="a brand new password",
            password_confirm="a brand new password",
        ),
        status=400,
    )

    assert response.html.find(id="e-current_password").text == "This is not your current password."
    app.post("/logout", form(app))
    login(app, customer_user.email, customer_user.password)


def test_change_password_keeps_this_session_and_ends_the_others(app, make_test_app, customer_user):
    other_device = make_test_app(
        plugins=["tests.accounts.probe"], **{"mercato.accounts.bcrypt_rounds": "4"}
    )
    login(other_device, customer_user.email)
    login(app, customer_user.email)
    before = app.cookies["mercato_session"]

    app.post(
        "/account/password",
        form(
            app,
            current_password=customer_user.password,
            password="a brand new password",
            password_confirm="a brand new password",
        ),
        status=303,
    )

    assert app.cookies["mercato_session"] != before, "the session id is rotated"
    assert app.get("/probe/session").json["user"] == customer_user.email
    assert other_device.get("/probe/session").json["user"] is None
    app.post("/logout", form(app))
    app.post(
        "/login", form(app, email=customer_user.email, password=customer_user.password), status=400
    )
    login(app, customer_user.email, "a brand new password")


def reset_link(app, dbsession, email):
    app.post("/password/forgot", form(app, email=email), status=303)
    return outbox(dbsession, "account.password_reset")[-1]["reset_url"]


def test_password_reset_by_emailed_link(app, customer_user, dbsession):
    response = app.post("/password/forgot", form(app, email=customer_user.email), status=303)
    assert "If an account exists for that email" in response.follow().text
    [message] = outbox(dbsession, "account.password_reset")
    assert message["email"] == customer_user.email
    assert message["name"] == customer_user.name
    link = message["reset_url"]
    assert link.startswith("http://localhost/password/reset/")

    page = app.get(link)
    page.form["password"] = "my new passphrase"
    page.form["password_confirm"] = "my new passphrase"
    done = page.form.submit(status=303)

    assert done.location.endswith("/login")
    app.post(
        "/login", form(app, email=customer_user.email, password=customer_user.password), status=400
    )
    login(app, customer_user.email, "my new passphrase")


def test_a_reset_link_works_once(app, customer_user, dbsession):
    link = reset_link(app, dbsession, customer_user.email)
    data = {"password": "first new password", "password_confirm": "first new password"}
    app.post(link, form(app, **data), status=303)

    again = app.post(
        link,
        form(app, password="second new password", password_confirm="second new password"),
        status=400,
    )

    assert "invalid, has expired or has already been used" in again.text
    assert "invalid, has expired" in app.get(link, status=400).text
    login(app, customer_user.email, "first new password")


def test_a_reset_link_expires(make_test_app, customer_user, dbsession):
    app = make_test_app(
        plugins=["tests.accounts.probe"],
        **{"mercato.accounts.bcrypt_rounds": "4", "mercato.accounts.reset_token_ttl": "1"},
    )
    link = reset_link(app, dbsession, customer_user.email)

    time.sleep(2.1)

    response = app.post(
        link, form(app, password="too late now", password_confirm="too late now"), status=400
    )
    assert "has expired" in response.text
    login(app, customer_user.email, customer_user.password)


def test_a_tampered_reset_link_is_refused(app, customer_user, dbsession):
    link = reset_link(app, dbsession, customer_user.email)
    user_id, expires, signature = link.rsplit("/", 1)[1].split(".")
    later = link.replace(f"{user_id}.{expires}.", f"{user_id}.{int(expires) + 86400}.")

    app.get(later, status=400)
    app.get(link[:-4] + "AAAA", status=400)
    app.get("/password/reset/not-a-token", status=400)


def test_reset_for_an_unknown_email_answers_the_same_and_sends_nothing(app, dbsession):
    response = app.post("/password/forgot", form(app, email="nobody@example.com"), status=303)

    assert "If an account exists for that email" in response.follow().text
    assert outbox(dbsession, "account.password_reset") == []


def test_reset_links_point_at_the_public_url_not_the_host_header(
    make_test_app, customer_user, dbsession
):
    app = make_test_app(
        plugins=["tests.accounts.probe"],
        **{"mercato.accounts.bcrypt_rounds": "4", "mercato.public_url": "https://shop.example"},
    )
    # Every request of this client claims to be for the attacker's host.
    app.extra_environ["HTTP_HOST"] = "evil.example"

    link = reset_link(app, dbsession, customer_user.email)

    assert link.startswith("https://shop.example/password/reset/")


# ---------------------------------------------------------------------------
# Profile and addresses
# ---------------------------------------------------------------------------


def test_profile_name_can_be_changed(app, customer_user, dbsession):
    login(app, customer_user.email)

    app.post("/account", form(app, name="Carla C."), status=303)

    assert dbsession.get(User, customer_user.id).name == "Carla C."
    bad = app.post("/account", form(app, name="  "), status=400)
    assert bad.html.find(id="e-name").text == "Please fill this in."


ADDRESS = {
    "name": "Carla Customer",
    "line1": "1 Market Street",
    "line2": "",
    "city": "Lyon",
    "postal_code": "69001",
    "region": "",
    "country": "FR",
    "phone": "+33 4 00 00 00 00",
}


def page_form(page):
    """The page's own form (the header also has the log-out form)."""
    return next(f for f in page.forms.values() if not f.action.endswith("/logout"))


def test_addresses_can_be_added_edited_and_deleted(app, customer_user, dbsession):
    login(app, customer_user.email)

    page = page_form(app.get("/account/addresses/new"))
    for key, value in ADDRESS.items():
        page[key] = value
    page.submit(status=303)
    [address] = dbsession.scalars(select(Address)).all()
    assert (address.user_id, address.city, address.country) == (customer_user.id, "Lyon", "FR")
    shown = app.get("/account").html.find(id="addresses").find("address").text
    assert "1 Market Street" in shown and "France" in shown  # the country's name, not "FR"

    edit = page_form(app.get(f"/account/addresses/{address.id}/edit"))
    assert edit["city"].value == "Lyon"
    edit["city"] = "Paris"
    edit.submit(status=303)
    dbsession.expire_all()
    assert dbsession.get(Address, address.id).city == "Paris"

    app.post(f"/account/addresses/{address.id}/delete", form(app), status=303)
    dbsession.expire_all()
    assert dbsession.scalars(select(Address)).all() == []


def test_an_invalid_address_comes_back_with_errors_and_values(app, customer_user, dbsession):
    login(app, customer_user.email)

    response = app.post(
        "/account/addresses/new", form(app, **{**ADDRESS, "city": "", "country": "XX"}), status=400
    )

    assert response.html.find(id="e-city").text == "Please fill this in."
    assert response.html.find(id="e-country").text == "Please choose a country."
    assert response.html.find(id="f-line1")["value"] == "1 Market Street"
    assert dbsession.scalars(select(Address)).all() == []


def test_someone_elses_address_is_not_found(app, customer_user, make_user, dbsession):
    other = make_user("other@example.com")
    dbsession.add(Address(user_id=other.id, **{**ADDRESS, "name": "Other"}))
    dbsession.commit()
    address_id = dbsession.scalar(select(Address.id))
    login(app, customer_user.email)

    app.get(f"/account/addresses/{address_id}/edit", status=404)
    app.post(f"/account/addresses/{address_id}/delete", form(app), status=404)
    app.post(f"/account/addresses/{address_id}/edit", form(app, **ADDRESS), status=404)

    dbsession.expire_all()
    assert dbsession.get(Address, address_id).name == "Other"


# ---------------------------------------------------------------------------
# JSON API
# ---------------------------------------------------------------------------


def test_api_login_returns_the_user_and_a_fresh_csrf_token(app, customer_user):
    token = csrf_token(app)
    response = app.post_json(
        "/api/session/login",
        {"email": customer_user.email, "password": customer_user.password},
        headers={"X-CSRF-Token": token},
    )

    assert response.json["user"]["email"] == customer_user.email
    assert response.json["user"]["role"] == "customer"
    new_token = response.json["csrf_token"]
    assert new_token != token
    me = app.get("/api/account").json
    assert me["user"]["id"] == customer_user.id
    assert me["addresses"] == []
    app.post_json("/api/session/logout", {}, headers={"X-CSRF-Token": new_token})
    assert app.get("/api/account", status=401).json["error"]["status"] == 401


def test_api_login_failure_and_bad_input_are_json(app, customer_user):
    headers = {"X-CSRF-Token": csrf_token(app)}

    wrong = app.post_json(
        "/api/session/login",
        {"email": customer_user.email, "password": "nope"},
        headers=headers,
        status=400,
    )
    missing = app.post_json("/api/session/login", {"email": "x"}, headers=headers, status=400)
    garbage = app.post(
        "/api/session/login",
        "not json",
        headers={**headers, "Content-Type": "application/json"},
        status=400,
    )

    assert wrong.json["error"]["message"] == "Email or password is incorrect."
    assert missing.json["error"]["fields"]["password"] == "Please enter a password."
    assert "Send a JSON object" in garbage.json["error"]["message"]


# ---------------------------------------------------------------------------
# mercato user create
# ---------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def user_command(tmp_path, migrated_database, redis_url):
    ini = tmp_path / "shop.ini"
    ini.write_text(
        "[app:main]\nuse = egg:mercato\nmercato.secret = s3cr3t\n"
        "mercato.accounts.bcrypt_rounds = 4\n"
        f"sqlalchemy.url = {migrated_database}\nredis.url = {redis_url}\n"
    )

    def run(*args, password=None):
        env = {"PATH": os.environ["PATH"]}
        if password:
            env["MERCATO_USER_PASSWORD"] = password
        return subprocess.run(
            [sys.executable, "-m", "mercato.ops.cli", "-c", str(ini), "user", "create", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )

    return run


def test_user_create_makes_the_first_admin(user_command, app, dbsession):
    result = user_command("--admin", "--name", "Owner", "Owner@Example.com", password="passphrase!")
    again = user_command("--admin", "owner@example.com", password="passphrase!")

    assert result.returncode == 0, result.stderr
    assert "created admin owner@example.com" in result.stdout
    user = dbsession.scalar(select(User))
    assert (user.email, user.name, user.role) == ("owner@example.com", "Owner", "admin")
    assert again.returncode == 1
    assert "exists already" in again.stderr
    login(app, "owner@example.com", "passphrase!")
    assert app.get("/probe/staff-admin").text == "staff admin"


def test_user_create_needs_a_password_from_the_environment_or_a_terminal(user_command, dbsession):
    result = user_command("--staff", "someone@example.com")

    assert result.returncode == 1
    assert "MERCATO_USER_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr
    assert dbsession.scalar(select(User)) is None
