"""What an order takes from stock reaches the next adds of the composed shop's process at
once, for the SKUs it took; the process goes on answering adds of other SKUs from what
the catalog told it lately (``mercato.cart.catalog_cache_seconds``, 10 s by default)."""

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
