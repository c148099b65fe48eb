"""Carts survive what real servers do: tabs racing, Redis losing everything, requests
failing halfway, time passing. Against real Redis and PostgreSQL."""

import threading
from datetime import timedelta

import pytest
import webtest
from sqlalchemy import select, update

from mercato.ops.cli import main as mercato_cli
from mercato.testing import csrf_token
from mercato_cart.models import CartBackup
from mercato_cart.store import StoredCart, write_waiting_backups
from tests.cart.conftest import PLUGINS, Shopper

SHOP_INI = """\
[app:main]
use = egg:mercato
mercato.plugins = cart
mercato.secret = test-secret
sqlalchemy.url = {database_url}
redis.url = {redis_url}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic

[formatter_generic]
format = %(levelname)s %(message)s
"""
IDLE_SECONDS = 30 * 24 * 3600  # the default mercato.cart.idle_days


def lines(cart: dict) -> list[tuple[str, int]]:
    return [(line["sku"], line["quantity"]) for line in cart["lines"]]


def backups(dbsession) -> dict[str, CartBackup]:
    # The copy is written behind the requests: what this process still holds first.
    write_waiting_backups()
    dbsession.expire_all()
    return {row.cart_id: row for row in dbsession.scalars(select(CartBackup))}


def only_cart_key(redis_client) -> str:
    (key,) = redis_client.keys("cart:*")
    return key.decode()


def test_concurrent_adds_from_many_tabs_lose_nothing(make_test_app, catalog):
    app = make_test_app(plugins=PLUGINS, **{"mercato.cart.max_per_line": "1000"})
    first_tab = Shopper(app)
    first_tab.add("PEN", 1)
    threads, adds, errors = 8, 15, []

    def tab():
        browser = webtest.TestApp(app.app, extra_environ=app.extra_environ)
        for name, value in app.cookies.items():
            browser.set_cookie(name, value)
        try:
            for _ in range(adds):
                browser.post_json(
                    "/api/cart/lines",
                    {"sku": "PEN", "quantity": 1},
                    headers=first_tab.headers,
                )
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    workers = [threading.Thread(target=tab) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert first_tab.quantities() == {"PEN": 1 + threads * adds}


def test_stock_cap_holds_when_tabs_race(make_test_app, catalog, redis_client):
    """Each request checks stock on its own; the script re-checks atomically, so racing
    tabs can never push a line beyond stock."""
    catalog.STOCK["MUG"] = 5
    app = make_test_app(plugins=PLUGINS)
    shopper = Shopper(app)
    shopper.add("MUG", 1)
    barrier = threading.Barrier(6)

    def tab():
        browser = webtest.TestApp(app.app, extra_environ=app.extra_environ)
        for name, value in app.cookies.items():
            browser.set_cookie(name, value)
        barrier.wait()
        browser.post_json(
            "/api/cart/lines",
            {"sku": "MUG", "quantity": 2},
            headers=shopper.headers,
            expect_errors=True,
        )

    workers = [threading.Thread(target=tab) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert shopper.quantities()["MUG"] <= 5


def test_guest_cart_comes_back_intact_after_redis_loses_everything(shopper, catalog, redis_client):
    shopper.add("MUG", 2)
    shopper.add("PEN", 5)
    catalog.PRICES["MUG"] = 1300  # so the price seen when adding must survive too
    before = shopper.cart()

    redis_client.flushdb()  # sessions and carts: all gone

    after = shopper.cart()
    assert after == before
    assert lines(after) == [("MUG", 2), ("PEN", 5)]
    assert after["lines"][0]["price_was"] == {"amount": 1250, "currency": "EUR"}
    key = only_cart_key(redis_client)
    assert 0 < redis_client.ttl(key) <= IDLE_SECONDS, "restored with its remaining idle time"


def test_changing_a_cart_lost_by_redis_keeps_its_backed_up_lines(shopper, redis_client):
    shopper.add("MUG", 2)
    redis_client.flushdb()
    shopper.token = csrf_token(shopper.app)  # the session went with Redis

    assert lines(shopper.add("TEE", 1).json) == [("MUG", 2), ("TEE", 1)]
    assert lines(shopper.cart()) == [("MUG", 2), ("TEE", 1)]


def test_customer_cart_comes_back_on_another_device_after_redis_loss(new_shopper, redis_client):
    phone = new_shopper()
    phone.login(42)
    phone.add("TEE", 2)
    redis_client.flushdb()

    laptop = new_shopper()
    laptop.login(42)
    assert laptop.quantities() == {"TEE": 2}


def test_every_committed_change_is_backed_up(shopper, dbsession, redis_client):
    shopper.add("MUG", 2)
    shopper.add("PEN", 1)
    (row,) = backups(dbsession).values()
    assert [(line["sku"], line["quantity"]) for line in row.lines] == [("MUG", 2), ("PEN", 1)]
    assert row.lines[0]["price"] == {"amount": 1250, "currency": "EUR"}
    assert row.version == 2
    assert redis_client.ttl(only_cart_key(redis_client)) == pytest.approx(IDLE_SECONDS, abs=5)

    shopper.clear()
    (row,) = backups(dbsession).values()
    assert row.lines == [] and row.version == 3


def test_an_error_after_the_cart_changed_leaves_the_cart_unchanged(
    shopper, catalog, dbsession, redis_client
):
    shopper.add("MUG", 1)
    version_before = backups(dbsession)
    key = only_cart_key(redis_client)
    redis_before = redis_client.hgetall(key)

    # The add is queued, then pricing the response fails: the request aborts.
    catalog.FAIL_PRICING.append("pricing service down")
    response = shopper.app.post_json(
        "/api/cart/lines", {"sku": "PEN", "quantity": 3}, headers=shopper.headers, status=500
    )
    assert "pricing service down" not in response.text
    catalog.FAIL_PRICING.clear()

    assert redis_client.hgetall(key) == redis_before
    assert lines(shopper.cart()) == [("MUG", 1)]
    assert {k: v.version for k, v in backups(dbsession).items()} == {
        k: v.version for k, v in version_before.items()
    }


def test_a_backup_older_than_the_idle_time_is_not_restored(shopper, dbsession, redis_client):
    shopper.add("MUG", 2)
    write_waiting_backups()
    dbsession.execute(update(CartBackup).values(updated_at=CartBackup.updated_at - _days(31)))
    dbsession.commit()
    redis_client.flushdb()

    assert shopper.cart()["lines"] == []
    assert backups(dbsession) == {}, "the expired snapshot is dropped when found"


def test_an_older_snapshot_never_overwrites_a_newer_one(app, shopper, dbsession):
    shopper.add("MUG", 3)
    (cart_id,) = backups(dbsession)
    store = app.app.registry.cart_store
    store.save_backups([StoredCart(cart_id, version=1, lines=[])])
    (row,) = backups(dbsession).values()
    assert row.version == 1 and row.lines[0]["quantity"] == 3, "version 1 was the first add"

    shopper.add("MUG", 1)
    store.save_backups([StoredCart(cart_id, version=1, lines=[])])
    (row,) = backups(dbsession).values()
    assert row.version == 2 and row.lines[0]["quantity"] == 4


def test_mercato_cli_cart_cleanup_deletes_backups_idle_too_long(
    new_shopper, dbsession, migrated_database, redis_url, tmp_path, capsys
):
    for user_id in (1, 2, 3):
        shopper = new_shopper()
        shopper.login(user_id)
        shopper.add("PEN", user_id)
    write_waiting_backups()
    dbsession.execute(
        update(CartBackup)
        .where(CartBackup.cart_id.in_(["u1", "u2"]))
        .values(updated_at=CartBackup.updated_at - _days(31))
    )
    dbsession.commit()
    config = tmp_path / "shop.ini"
    config.write_text(SHOP_INI.format(database_url=migrated_database, redis_url=redis_url))

    assert mercato_cli(["-c", str(config), "cart", "cleanup"]) == 0

    assert "deleted 2 cart backup(s) idle for over 30 days" in capsys.readouterr().out
    assert set(backups(dbsession)) == {"u3"}


def _days(days: int) -> timedelta:
    return timedelta(days=days)


def test_the_backup_survives_postgresql_dropping_the_pools_connections(
    make_test_app, catalog, tcp_proxy, migrated_database, dbsession
):
    """Connections are not pinged as they leave the pool: the backup written after an
    add finds its connection dead once PostgreSQL restarted, and writes on a new one."""
    from sqlalchemy.engine import make_url

    from mercato.testing import LOCAL_POSTGRES

    url = make_url(migrated_database)
    proxy = tcp_proxy((url.host or LOCAL_POSTGRES[0], url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    shopper = Shopper(make_test_app(plugins=PLUGINS, **{"sqlalchemy.url": proxied}))
    shopper.add("MUG")

    proxy.cut()
    shopper.add("MUG")

    (backup,) = backups(dbsession).values()
    assert backup.version == 2
    assert backup.lines[0]["quantity"] == 2
