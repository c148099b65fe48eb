from .conftest import all_orders, stock_of


def test_a_guest_buys_a_tee(demo_shopper, dbsession, demo_shop):
    demo_shopper.buy({"TEE": 1})
    [order] = all_orders(dbsession)
    assert order.status == "paid"
    assert stock_of(dbsession, "TEE") == 9
    assert demo_shopper.cart() == {}
