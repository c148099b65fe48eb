"""The composed shop on a primary and a real streaming replica (``sqlalchemy.read_url``).

What may be a little stale (search, the sitemap, the category menu) is read
from the replica; what writes or must see its own write (cart, checkout, accounts, the
admin, a product page rendered into the page cache) from the primary. Which server ran
what is read from the servers themselves: ``pg_stat_statements`` and the connections'
``application_name`` in ``pg_stat_activity``.
"""

import re
import time

import pytest
from sqlalchemy import select

from mercato.db import REPLICA_CONNECT_TIMEOUT, REPLICA_RETRY_AFTER
from mercato.orders import models as m
from mercato_catalog.models import Variant
from tests.shop.conftest import all_orders

from .conftest import reset_statements, statements_on

# Tables that only the primary may be asked about: carts, orders, accounts, prices.
PRIMARY_ONLY = re.compile(
    r"\b(orders|order_lines|payments|accounts_\w+|users|cart_\w+|catalog_variants)\b"
)

WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


@pytest.fixture
def shop(replication, make_demo_shop):
    """The composed shop reading what it may from the replica."""
    shop = make_demo_shop(**{"sqlalchemy.read_url": replication.replica.url()})
    replication.wait_caught_up()  # the products the shop starts with
    yield shop
    shop.app.registry.read_dbsession_factory.kw["bind"].dispose()


def application_names(node) -> set[str]:
    rows = node.sql("SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = %s",
                    ("mercato",))  # fmt: skip
    return {name for (name,) in rows}


def touched(statements, table: str) -> list[str]:
    return [query for query, _calls in statements if re.search(rf"\b{table}\b", query)]


def price_on(page_text: str, amount: str) -> bool:
    return amount in page_text


def test_search_and_the_sitemap_read_from_the_replica(shop, replication):
    shopper = shop.browser()
    reset_statements(replication.primary)
    reset_statements(replication.replica)

    assert "Organic Tee" in shopper.app.get("/search", {"q": "tee"}).text
    assert "/p/mug" in shopper.app.get("/sitemap-products-1.xml").text

    on_replica, on_primary = statements_on(replication.replica), statements_on(replication.primary)
    assert touched(on_replica, "catalog_products"), on_replica
    assert not touched(on_primary, "catalog_products"), on_primary
    assert "mercato-replica" in application_names(replication.replica)
    assert "mercato-replica" not in application_names(replication.primary)
    shopper.app.get("/p/tee")  # rendered into the page cache: from the primary
    assert "mercato-primary" in application_names(replication.primary)


def test_carts_checkouts_accounts_and_the_admin_never_ask_the_replica(
    shop, replication, customer_user, admin_user, dbsession
):
    reset_statements(replication.replica)
    staff = shop.browser()
    staff.log_in(admin_user.email, admin_user.password)
    variant_id = dbsession.scalar(select(Variant.id).where(Variant.sku == "MUG"))
    form = staff.app.get("/admin/catalog/products/mug/edit").forms["product-form"]
    form[f"v{variant_id}-price"] = "13.50"
    form.submit(status=303)
    assert staff.app.get("/admin/catalog/products/mug/edit").forms["product-form"][
        f"v{variant_id}-price"
    ].value in ("13.50", "13.5")
    shopper = shop.browser()
    shopper.log_in(customer_user.email)
    assert "13.50" in shopper.app.get("/p/mug").text  # a page-cache miss after the edit
    shopper.buy({"MUG": 2}, email=customer_user.email)
    shopper.app.get("/account/orders")

    [order] = all_orders(dbsession)
    assert (order.status, order.subtotal_amount) == (m.PAID, 2700)
    on_replica = statements_on(replication.replica)
    assert not [q for q, _ in on_replica if WRITES.match(q)], on_replica
    assert not [q for q, _ in on_replica if PRIMARY_ONLY.search(q)], on_replica
    assert not touched(on_replica, "catalog_products"), "product pages come from the primary"


def test_a_lagging_replica_never_makes_checkout_charge_an_old_price(
    shop, replication, admin_user, dbsession
):
    staff = shop.browser()
    staff.log_in(admin_user.email, admin_user.password)
    variant_id = dbsession.scalar(select(Variant.id).where(Variant.sku == "TEE"))
    shopper = shop.browser()
    shopper.add("TEE", 2)

    with replication.replay_paused():
        form = staff.app.get("/admin/catalog/products/tee/edit").forms["product-form"]
        form[f"v{variant_id}-price"] = "30.00"
        form.submit(status=303)
        replication.primary.sql("SELECT 1")  # the edit is committed on the primary …
        assert not replication.caught_up(), "… and not applied on the replica"

        # Search may show the old price for as long as the replica lags …
        assert "24.00" in shopper.app.get("/search", {"q": "tee"}).text
        # … the cart, the checkout and the payment never do.
        cart = " ".join(shopper.app.get("/cart").html.get_text().split())
        assert "changed from €24.00 to €30.00" in cart and "€60.00" in cart
        shopper.address()
        shopper.pay()

        [order] = all_orders(dbsession)
        assert (order.status, order.subtotal_amount) == (m.PAID, 6000)
        [payment] = order.payments
        assert payment.amount == order.total_amount
    assert "30.00" in shopper.app.get("/search", {"q": "tee"}).text  # caught up


def test_a_stopped_replica_leaves_every_page_to_the_primary(shop, replication, dbsession):
    shopper = shop.browser()
    assert "Organic Tee" in shopper.app.get("/search", {"q": "tee"}).text  # pool on the replica

    with replication.replica_stopped():
        # Its pooled connection is dead: the request is retried, finds the replica
        # refusing connections, and reads the primary.
        started = time.monotonic()
        assert "Organic Tee" in shopper.app.get("/search", {"q": "tee"}).text
        elapsed = time.monotonic() - started
        assert shopper.app.get("/p/tee").status_int == 200
        assert "/p/mug" in shopper.app.get("/sitemap-products-1.xml").text
        shopper.buy({"TEE": 1})

    print(f"search as the replica stops: {elapsed:.2f} s")
    assert elapsed < REPLICA_CONNECT_TIMEOUT + 1, f"took {elapsed:.1f} s"
    assert [o.status for o in all_orders(dbsession)] == [m.PAID]


def test_an_unanswering_replica_delays_one_request_by_the_connect_timeout_at_most(
    replication, make_demo_shop, tcp_proxy
):
    # A replica whose host stopped answering: connections are accepted, never served.
    proxy = tcp_proxy(("127.0.0.1", replication.replica.port))
    proxy.freeze()
    read_url = replication.replica.url().replace(f":{replication.replica.port}/", f":{proxy.port}/")
    shop = make_demo_shop(**{"sqlalchemy.read_url": read_url})
    shopper = shop.browser()

    timings = []
    for _ in range(3):
        started = time.monotonic()
        assert "Organic Tee" in shopper.app.get("/search", {"q": "tee"}).text
        timings.append(time.monotonic() - started)

    print("search with an unanswering replica: " + ", ".join(f"{t:.2f} s" for t in timings))
    first, *later = timings
    assert REPLICA_CONNECT_TIMEOUT - 0.5 < first < REPLICA_CONNECT_TIMEOUT + 2, timings
    # The next requests, within REPLICA_RETRY_AFTER, go straight to the primary.
    assert max(later) < 1.0 and sum(timings) < REPLICA_RETRY_AFTER, timings
