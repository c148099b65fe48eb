"""API keys against the composed shop: what a key may do, when it stops working, and
that its secret is kept nowhere in clear."""

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.shop.conftest import all_orders

from .conftest import PRODUCT, client, make_key


def key_rows(dbsession) -> list[dict]:
    dbsession.expire_all()
    rows = dbsession.execute(text("SELECT * FROM api_keys ORDER BY id")).mappings().all()
    return [dict(row) for row in rows]


def test_a_key_creates_products_and_reads_orders_with_no_cookie_and_no_csrf_token(
    shop, admin, admin_user, demo_shopper, dbsession
):
    demo_shopper.buy({"TEE": 1})
    secret = make_key(admin, admin_user.id, scopes=("catalog:write", "orders:read"))
    api = client(shop, secret)

    created = api.post_json("/api/staff/products", PRODUCT, status=201)
    assert created.json["product"]["variants"][0]["sku"] == "ENAMEL"
    (order,) = all_orders(dbsession)
    read = api.get(f"/api/staff/orders/{order.number}", status=200).json["order"]
    assert read["lines"][0]["sku"] == "TEE"


def test_a_key_without_the_scope_gets_403_in_json(shop, admin, admin_user, demo_shopper, dbsession):
    demo_shopper.buy({"TEE": 1})
    (order,) = all_orders(dbsession)
    api = client(shop, make_key(admin, admin_user.id, scopes=("catalog:read",)))

    api.get("/api/staff/products/tee", status=200)
    refused = api.post_json("/api/staff/products", PRODUCT, status=403)
    assert refused.json["error"]["status"] == 403
    api.get(f"/api/staff/orders/{order.number}", status=403)
    # Its owner's own account is not a scope: an admin's key is not the admin.
    api.get("/api/account/orders", status=403)


def test_mercato_request_credentials_allow_no_more_than_the_owners_role(
    shop, admin, staff_user, dbsession
):
    api = client(shop, make_key(admin, staff_user.id, scopes=("catalog:write",)))
    api.post_json("/api/staff/products", PRODUCT, status=201)

    dbsession.execute(
        text("UPDATE users SET role = 'customer' WHERE id = :id"), {"id": staff_user.id}
    )
    dbsession.commit()
    api.get("/api/staff/products/enamel-mug", status=403)

    dbsession.execute(
        text("UPDATE users SET is_active = false WHERE id = :id"), {"id": staff_user.id}
    )
    dbsession.commit()
    api.get("/api/staff/products/enamel-mug", status=401)


def test_a_revoked_key_gets_401_with_a_bearer_challenge(shop, admin, admin_user, dbsession):
    secret = make_key(admin, admin_user.id)
    api = client(shop, secret)
    api.get("/api/staff/products/tee", status=200)

    (row,) = key_rows(dbsession)
    admin.app.post(f"/admin/api-keys/{row['id']}/revoke", {"csrf_token": admin.token}, status=303)
    refused = api.get("/api/staff/products/tee", status=401)
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.json["error"]["status"] == 401
    assert key_rows(dbsession)[0]["revoked_at"] is not None
    # Even where no permission is needed: a bad key is never taken for a guest.
    api.get("/api/products", status=401)


def test_an_unknown_or_malformed_key_gets_401(shop, admin, admin_user):
    real = make_key(admin, admin_user.id)
    for secret in (real[:-1] + ("A" if real[-1] != "A" else "B"), "mk_live_short", "", "x" * 5000):
        refused = client(shop, secret).get("/api/staff/products/tee", status=401)
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_bearer_key_on_a_path_outside_the_api_is_ignored(shop, admin, admin_user):
    browser_like = client(shop, make_key(admin, admin_user.id, scopes=("orders:write",)))
    # The admin's pages want a logged-in admin: the key does not make one.
    page = browser_like.get("/admin/api-keys", status=303)
    assert "/login" in page.headers["Location"]
    # And a form outside /api still needs its CSRF token.
    browser_like.post("/cart/add", {"sku": "TEE", "quantity": 1}, status=400)


def test_the_secret_is_stored_hashed_and_never_logged(shop, admin, admin_user, dbsession, caplog):
    caplog.set_level(logging.DEBUG)
    secret = make_key(admin, admin_user.id)
    client(shop, secret).get("/api/staff/products/tee", status=200)
    client(shop, secret + "x").get("/api/staff/products/tee", status=401)

    (row,) = key_rows(dbsession)
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(row["prefix"])
    assert all(secret not in str(value) for value in row.values())
    assert secret not in caplog.text
    assert any(r.name == "mercato.requests" for r in caplog.records)  # the log was on
    # The list shows the prefix only.
    listed = admin.app.get("/admin/api-keys")
    assert row["prefix"] in listed.text and secret not in listed.text


def test_last_use_is_recorded_at_most_once_a_minute(shop, admin, admin_user, dbsession):
    api = client(shop, make_key(admin, admin_user.id))
    assert key_rows(dbsession)[0]["last_used_at"] is None

    api.get("/api/staff/products/tee")
    first = key_rows(dbsession)[0]["last_used_at"]
    assert first is not None and datetime.now(UTC) - first < timedelta(seconds=30)
    api.get("/api/staff/products/tee")
    assert key_rows(dbsession)[0]["last_used_at"] == first  # no write per request

    dbsession.execute(text("UPDATE api_keys SET last_used_at = now() - interval '2 minutes'"))
    dbsession.commit()
    api.get("/api/staff/products/tee")
    assert datetime.now(UTC) - key_rows(dbsession)[0]["last_used_at"] < timedelta(seconds=30)


def test_each_key_has_its_own_rate_limit(key_shop, make_user, admin_user):
    shop = key_shop(**{"mercato.ratelimit.api_key": "3/minute"})
    admin = shop.browser()
    admin.log_in(admin_user.email, admin_user.password)
    first = client(shop, make_key(admin, admin_user.id, name="first"))
    second = client(shop, make_key(admin, admin_user.id, name="second"))

    for _ in range(3):
        first.get("/api/staff/products/tee", status=200)
    refused = first.get("/api/staff/products/tee", status=429)
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json["error"]["status"] == 429
    # Same address, another key: counted apart; and so is a shopper at that address.
    second.get("/api/staff/products/tee", status=200)
    client(shop).get("/api/products", status=200)


def test_orders_read_only_reads_and_orders_write_ships(
    shop, admin, admin_user, demo_shopper, dbsession
):
    demo_shopper.buy({"TEE": 1})
    (order,) = all_orders(dbsession)
    path = f"/api/staff/orders/{order.number}"
    reader = client(shop, make_key(admin, admin_user.id, scopes=("orders:read",), name="r"))
    writer = client(shop, make_key(admin, admin_user.id, scopes=("orders:write",), name="w"))

    reader.get(path, status=200)
    reader.post_json(f"{path}/fulfilment", {}, status=403)
    assert all_orders(dbsession)[0].status == "paid"
    shipped = writer.post_json(f"{path}/fulfilment", {}, status=200).json["order"]
    assert shipped["status"] == all_orders(dbsession)[0].status == "fulfilled"
