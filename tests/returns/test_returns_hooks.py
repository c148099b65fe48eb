"""The hooks the returns plugin calls, heard by a stand-in plugin of this suite
(``tests.returns.listener``) in the composed shop, with the dicts docs/plugins.md
documents, inside the transaction of the step (a refused step calls nothing)."""

import pytest

from . import listener
from .conftest import ask, demo_plugins, guest_page, returns_of, ship, staff_step, the_order


@pytest.fixture
def shop(make_demo_shop):
    listener.heard.clear()
    yield make_demo_shop(
        **{"mercato.plugins": " ".join([*demo_plugins(), "tests.returns.listener"])}
    )
    listener.heard.clear()


@pytest.fixture
def shipped(shop, dbsession):
    guest = shop.browser()
    guest.buy({"TEE": 2, "MUG": 1})
    order = the_order(dbsession)
    ship(shop, dbsession, order)
    return guest, the_order(dbsession)


def test_mercato_return_requested_hears_the_lines_and_the_customers_words(shipped, dbsession):
    guest, order = shipped

    ask(guest, guest_page(order), {"TEE": 2, "MUG": 1}, details="Both too small.")

    [ret] = returns_of(dbsession)
    assert listener.heard == [
        (
            "requested",
            order.number,
            {"id": ret.id, "lines": {"TEE": 2, "MUG": 1}, "reason": "Too small: Both too small."},
        )
    ]
    # A refused request (more than shipped) calls nothing.
    guest.app.post(
        f"/orders/{order.access_token}/returns",
        {"csrf_token": guest.token, "quantity.TEE": "1", "reason": "Too small"},
        status=409,
    )
    assert len(listener.heard) == 1


def test_mercato_return_received_hears_what_came_back_and_what_went_back_to_stock(
    shop, shipped, dbsession, admin_user
):
    guest, order = shipped
    ask(guest, guest_page(order), {"TEE": 2, "MUG": 1})
    [ret] = returns_of(dbsession)
    staff = shop.browser()
    staff.log_in(admin_user.email, admin_user.password)
    staff_step(staff, order, ret.id, "approve")
    listener.heard.clear()

    # Refused (more back in stock than came back): nothing heard.
    staff_step(
        staff, order, ret.id, "receive", status=400, **{"received.TEE": "1", "restock.TEE": "2"}
    )
    assert listener.heard == []
    # Both tees came back, one of them torn; the mug never arrived.
    staff_step(
        staff,
        order,
        ret.id,
        "receive",
        **{"received.TEE": "2", "restock.TEE": "1", "received.MUG": "0", "restock.MUG": "0"},
    )

    assert listener.heard == [
        ("received", order.number, {"id": ret.id, "lines": {"TEE": 2}, "restocked": {"TEE": 1}})
    ]
