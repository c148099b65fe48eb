"""Registering and the saved addresses through the JSON API (``mercato_accounts.api``):
the account forms' rules and words, the session logged in, one customer's addresses
out of another's reach."""

from sqlalchemy import select

from mercato import Address, User
from mercato.testing import PASSWORD, csrf_token, login

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "city": "Paris",
    "postal_code": "75001",
    "country": "fr",
}


def register(app, status=201, **changes):
    body = {
        "name": "Ada",
        "email": "ada@example.com",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        **changes,
    }
    token = csrf_token(app)
    return app.post_json(
        "/api/account/register", body, headers={"X-CSRF-Token": token}, status=status
    )


def test_registering_creates_the_account_logged_in(shop, dbsession):
    app = shop()
    created = register(app).json

    assert created["user"]["email"] == "ada@example.com"
    assert created["user"]["role"] == "customer"
    assert app.get("/api/account").json["user"]["id"] == created["user"]["id"]
    headers = {"X-CSRF-Token": created["csrf_token"]}
    assert app.post_json("/api/session/logout", {}, headers=headers).json == {"ok": True}
    assert dbsession.scalar(select(User.name).where(User.email == "ada@example.com")) == "Ada"


def test_registering_is_refused_with_the_forms_words(shop, customer_user, dbsession):
    refused = register(shop(), status=400, password="short", password_confirm="other")
    assert set(refused.json["error"]["fields"]) == {"password"}
    mismatch = register(shop(), status=400, password_confirm=PASSWORD + "!")
    assert "do not match" in mismatch.json["error"]["fields"]["password_confirm"]
    taken = register(shop(), status=409, email=customer_user.email).json["error"]
    assert taken["fields"]["email"].startswith("An account with this email exists.")
    assert dbsession.scalar(select(User).where(User.email == "ada@example.com")) is None


def test_a_customer_saves_changes_and_deletes_addresses(shop, customer_user, dbsession):
    app = shop()
    login(app, customer_user.email)
    headers = {"X-CSRF-Token": csrf_token(app)}

    saved = app.post_json("/api/account/addresses", ADDRESS, headers=headers, status=201)
    address = saved.json["address"]
    assert (address["country"], address["city"]) == ("FR", "Paris")
    changed = app.put_json(
        f"/api/account/addresses/{address['id']}", {**ADDRESS, "city": "Lyon"}, headers=headers
    )
    assert changed.json["address"]["city"] == "Lyon"
    assert app.get("/api/account").json["addresses"] == [changed.json["address"]]

    bad = app.post_json(
        "/api/account/addresses", {**ADDRESS, "country": "XX"}, headers=headers, status=400
    )
    assert bad.json["error"]["fields"] == {"country": "Please choose a country."}
    left = app.delete(f"/api/account/addresses/{address['id']}", headers=headers)
    assert left.json == {"addresses": []}
    assert dbsession.scalars(select(Address)).all() == []


def test_another_customers_address_is_not_found(shop, customer_user, make_user, dbsession):
    owner = shop()
    login(owner, customer_user.email)
    token = {"X-CSRF-Token": csrf_token(owner)}
    mine = owner.post_json("/api/account/addresses", ADDRESS, headers=token, status=201)
    number = mine.json["address"]["id"]

    other = shop()
    login(other, make_user("eve@example.com", "customer").email)
    headers = {"X-CSRF-Token": csrf_token(other)}
    other.put_json(f"/api/account/addresses/{number}", ADDRESS, headers=headers, status=404)
    other.delete(f"/api/account/addresses/{number}", headers=headers, status=404)
    assert shop().post_json("/api/account/addresses", ADDRESS, status=401)  # a guest
    dbsession.expire_all()
    assert dbsession.get(Address, number).city == "Paris"
