"""The right to erasure, in the shop as ``mercato demo`` composes it: a customer erases
their account (the account page or the JSON API) or an admin does it at their request.
The login, name, addresses and saved cart go for good, everywhere (Redis and
PostgreSQL, every device's session); the orders stay, with their email and addresses
and no link to an account; a goodbye email says so. Staff accounts are not erased so."""

import time

from sqlalchemy import select

from mercato import Address, User
from mercato_admin.models import AuditEntry
from mercato_cart.models import CartBackup

from .conftest import all_orders

EMAIL, PASSWORD = "erin@example.com", "a long passphrase"


def register(shopper, email: str = EMAIL) -> None:
    form = {"name": "Erin Erased", "email": email, "password": PASSWORD}
    shopper.app.post(
        "/register", {**form, "password_confirm": PASSWORD, "csrf_token": shopper.token}, status=303
    )


def user_id(dbsession, email: str = EMAIL) -> int | None:
    dbsession.expire_all()
    return dbsession.scalar(select(User.id).where(User.email == email))


def erase_form(shopper, password: str, status: int):
    page = shopper.app.get("/account/erase")
    assert EMAIL in page.text
    [form] = [f for f in page.forms.values() if f.action.endswith("/account/erase")]
    form["password"] = password
    return form.submit(status=status)


def sessions_holding(redis, text: str) -> int:
    """How many values in the shop's Redis database hold ``text`` (sessions are JSON)."""
    found = 0
    for key in redis.scan_iter(count=1000):
        if redis.type(key) == b"string" and text.encode() in (redis.get(key) or b""):
            found += 1
    return found


def backup_of(dbsession, cart_id: str):
    dbsession.expire_all()
    return dbsession.get(CartBackup, cart_id)


def test_mercato_user_erased_a_customer_erases_their_account_and_their_orders_stay(
    demo_shop, dbsession
):
    shopper = demo_shop.browser()
    register(shopper)
    customer = user_id(dbsession)
    shopper.app.post(
        "/account/addresses/new",
        {"name": "Erin Erased", "line1": "1 Rue de la Paix", "postal_code": "75002",
         "city": "Paris", "country": "FR", "csrf_token": shopper.token},
        status=303,
    )  # fmt: skip
    shopper.buy({"TEE": 1})
    shopper.add("MUG")  # a saved cart, in Redis and (within a second) in PostgreSQL
    cart_key = f"cart:{{u{customer}}}"
    redis = demo_shop.app.registry.redis
    deadline = time.monotonic() + 5
    while backup_of(dbsession, f"u{customer}") is None:
        assert time.monotonic() < deadline, "the cart's backup was never written"
        time.sleep(0.05)
    other_device = demo_shop.browser()
    other_device.log_in(EMAIL, PASSWORD)
    other_device.address(method=False, email="erin.home@example.com", line1="7 Quiet Lane")
    assert sessions_holding(redis, "7 Quiet Lane") == 1
    emails_before = len(demo_shop.smtp.messages)

    refused = erase_form(shopper, "not my password", status=400)
    assert "This is not your password." in refused.text
    assert user_id(dbsession) == customer

    erase_form(shopper, PASSWORD, status=303)
    assert "Your account has been erased." in shopper.app.get("/").text

    assert user_id(dbsession) is None
    assert dbsession.scalars(select(Address).where(Address.user_id == customer)).all() == []
    [order] = all_orders(dbsession)
    assert (order.customer_id, order.email, order.status) == (None, "ada@example.com", "paid")
    assert order.shipping_address["name"] == "Ada Lovelace"
    assert redis.exists(cart_key) == 0
    time.sleep(1.2)  # the backup writer's bound: nothing it held brings the cart back
    assert backup_of(dbsession, f"u{customer}") is None
    # Every device is a guest's now, and keeps nothing of them (its next request empties
    # it); the old login is gone and the email free again.
    assert "/login" in other_device.app.get("/account", status=(302, 303)).location
    assert sessions_holding(redis, "7 Quiet Lane") == 0
    stranger = demo_shop.browser()
    answer = stranger.app.post(
        "/login",
        {"email": EMAIL, "password": PASSWORD, "csrf_token": stranger.token},
        status=400,
    )
    assert "Email or password is incorrect." in answer.text
    goodbye = demo_shop.smtp.wait_for(emails_before + 1)[-1]
    assert goodbye["To"] == EMAIL
    assert "has been erased" in goodbye["Subject"]
    register(demo_shop.browser())
    assert user_id(dbsession) not in (None, customer)


def test_the_json_api_erases_the_account_with_its_password(demo_shop, dbsession):
    shopper = demo_shop.browser()
    app = shopper.app
    token = app.post_json(
        "/api/account/register",
        {"name": "Erin", "email": EMAIL, "password": PASSWORD, "password_confirm": PASSWORD},
        headers={"X-CSRF-Token": shopper.token},
        status=201,
    ).json["csrf_token"]
    headers = {"X-CSRF-Token": token}

    wrong = app.delete_json("/api/account", {"password": "nope"}, headers=headers, status=400)
    assert wrong.json["error"]["fields"] == {"password": "This is not your password."}
    missing = app.delete_json("/api/account", {}, headers=headers, status=400)
    assert "password" in missing.json["error"]["fields"]
    assert user_id(dbsession) is not None

    app.delete_json("/api/account", {"password": PASSWORD}, headers=headers, status=204)
    assert user_id(dbsession) is None
    assert app.get("/api/account", status=(401, 403)).json["error"]["status"] in (401, 403)


def test_staff_accounts_are_not_erased_by_their_owner(demo_shop, dbsession, staff_user):
    staff = demo_shop.browser()
    staff.log_in(staff_user.email, staff_user.password)
    page = staff.app.get("/account/erase")
    [form] = [f for f in page.forms.values() if f.action.endswith("/account/erase")]
    form["password"] = staff_user.password
    refused = form.submit(status=409)
    assert "A staff account is closed by an admin of the shop" in refused.text
    dbsession.expire_all()
    assert dbsession.scalar(select(User.id).where(User.email == staff_user.email)) is not None


def test_an_admin_erases_a_customer_at_their_request(demo_shop, demo_staff, dbsession, staff_user):
    shopper = demo_shop.browser()
    register(shopper)
    shopper.buy({"MUG": 1})
    customer = user_id(dbsession)
    page = demo_staff.app.get(f"/admin/customers/{customer}")
    form = page.forms[
        next(k for k, f in page.forms.items() if f.action.endswith(f"/{customer}/erase"))
    ]

    form["confirm"] = "someone@else.example"
    refused = form.submit(status=400)
    assert f"Type {EMAIL} to confirm." in refused.text
    assert user_id(dbsession) == customer

    form["confirm"] = EMAIL.upper()
    done = form.submit(status=303).follow()
    assert "1 order(s) kept" in done.text
    assert user_id(dbsession) is None
    [order] = all_orders(dbsession)
    assert order.customer_id is None
    [entry] = dbsession.scalars(select(AuditEntry).where(AuditEntry.action == "customer.erase"))
    assert entry.summary == f"Erased customer #{customer} at their request (1 order(s) kept)"
    assert EMAIL not in f"{entry.summary} {entry.object_id} {entry.details}"
    assert "/login" in shopper.app.get("/account", status=(302, 303)).location

    # Staff who are not admins see no such form and cannot post one.
    register(demo_shop.browser(), "otto@example.com")
    otto = user_id(dbsession, "otto@example.com")
    staff = demo_shop.browser()
    staff.log_in(staff_user.email, staff_user.password)
    assert "Erase the customer" not in staff.app.get(f"/admin/customers/{otto}").text
    staff.app.post(
        f"/admin/customers/{otto}/erase",
        {"confirm": "otto@example.com", "csrf_token": staff.token},
        status=403,
    )
    assert user_id(dbsession, "otto@example.com") == otto

    # A staff account is not erased so, even by an admin who posts the form anyway.
    page = demo_staff.app.get(f"/admin/customers/{staff_user.id}")
    assert "Erase the customer" not in page.text
    refused = demo_staff.app.post(
        f"/admin/customers/{staff_user.id}/erase",
        {"confirm": staff_user.email, "csrf_token": demo_staff.token},
        status=409,
    )
    assert f"{staff_user.email} is staff: make the account a customer&#39;s first" in refused.text
    assert user_id(dbsession, staff_user.email) == staff_user.id


def test_a_session_left_open_cannot_guess_the_password_on_the_erase_form(make_demo_shop, dbsession):
    shop = make_demo_shop(**{"mercato.ratelimit.login.account": "3/minute"})
    shopper = shop.browser()
    register(shopper)
    for _ in range(3):
        erase_form(shopper, "a guess at it", status=400)
    # The wrong answers counted as failed logins of the account: the right one waits too.
    refused = erase_form(shopper, PASSWORD, status=429)
    assert "Too many attempts" in refused.text
    assert user_id(dbsession) is not None
