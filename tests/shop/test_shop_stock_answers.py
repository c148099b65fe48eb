"""What an order takes from stock reaches the next adds of the composed shop's process at
once, and its other processes' within moments (the stock news on Redis), for the SKUs
it took; the processes go on answering adds of other SKUs from what the catalog told
them lately (``mercato.cart.catalog_cache_seconds``, 60 s by default)."""

import time

import pytest
from sqlalchemy import event


def add_through_the_api(shopper, sku: str, status: int = 200):
    return shopper.app.post_json(
        "/api/cart/lines",
        {"sku": sku, "quantity": 1},
        headers={"X-CSRF-Token": shopper.token},
        status=status,
    )


def test_an_order_taking_the_last_tees_refuses_the_next_add_of_a_tee_at_once(demo_shop):
    reads: list[str] = []
    event.listen(
        demo_shop.app.registry.db_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: (
            reads.append(statement) if statement.startswith("SELECT catalog_variants.sku") else None
        ),
    )
    browsing = demo_shop.browser()
    add_through_the_api(browsing, "TEE")
    mug_cart = demo_shop.browser()
    add_through_the_api(mug_cart, "MUG")

    demo_shop.browser().buy({"TEE": 9})  # 10 in stock: one left

    before = len(reads)
    assert add_through_the_api(mug_cart, "MUG").json["count"] == 2
    assert len(reads) == before, "the mug's answers were kept: the order took no mug"
    refused = add_through_the_api(browsing, "TEE", status=409).json
    assert (
        refused["error"]["message"]
        == "Only 1 of Organic Tee is available and you already have 1 in your cart."
    )


def test_an_order_in_another_process_reaches_this_ones_adds_within_moments(make_demo_shop):
    """Two composed shops on the same PostgreSQL and Redis stand for two processes of
    one shop: the tees one of them sells are refused by the other's next add."""
    here, there = make_demo_shop(), make_demo_shop()
    browsing = here.browser()
    add_through_the_api(browsing, "TEE")

    there.browser().buy({"TEE": 9})  # 10 in stock: one left

    deadline = time.monotonic() + 5
    while (answer := add_through_the_api(browsing, "TEE", status=(200, 409))).status_int == 200:
        if time.monotonic() > deadline:
            pytest.fail("another process's order still unheard of after 5 s")
        browsing.app.put_json(  # back to one tee, to try the add again
            "/api/cart/lines/TEE", {"quantity": 1}, headers={"X-CSRF-Token": browsing.token}
        )
    assert (
        answer.json["error"]["message"]
        == "Only 1 of Organic Tee is available and you already have 1 in your cart."
    )
