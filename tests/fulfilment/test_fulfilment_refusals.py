"""What staff may not do: ship what is not there to ship, with a carrier the shop does
not list, a tracking "number" of 10 KB, lines of another order, an order not paid —
each refused with a message, and nothing shipped, recorded or emailed. The staff JSON
API answers the same in JSON, and only staff reach either."""

import pytest

from mercato.orders import models as m

from . import listener
from .conftest import (
    CARD_3DS,
    all_orders,
    api_ship,
    emails,
    fill,
    ship_form,
    shipments,
    shipped,
)


def nothing_shipped(dbsession, demo_shop, order, emails_before: int) -> None:
    [order] = [o for o in all_orders(dbsession) if o.id == order.id]
    assert order.status == m.PAID
    assert all(quantity == 0 for quantity in shipped(order).values())
    assert shipments(dbsession, order) == []
    assert listener.HEARD == []
    emails(demo_shop, emails_before)


@pytest.mark.parametrize(
    ("units", "typed", "message"),
    [
        ({"TEE": 0, "MUG": 0}, {}, "Choose at least one unit to ship."),
        ({"MUG": 3}, {}, "Only 2 × Blue Mug are left to ship."),
        ({"TEE": 2}, {}, "Only 1 × Organic Tee is left to ship."),
        ({"MUG": -1}, {}, "Give a whole number of units, 0 or more."),
        ({"MUG": "two"}, {}, "Give a whole number of units, 0 or more."),
        ({"MUG": "1.5"}, {}, "Give a whole number of units, 0 or more."),
        ({"MUG": 1}, {"carrier": "pigeon"}, "Choose a carrier from the list."),
        ({"MUG": 1}, {"carrier": ""}, "Choose a carrier."),
        (
            {"MUG": 1},
            {"tracking_number": "9" * 10_000},
            "A tracking number has at most 64 characters.",
        ),
        ({"MUG": 1}, {"tracking_number": "<script>"}, "Use the letters, digits"),
        ({"MUG": 1}, {"nonce": "../../etc"}, "This form is damaged"),
    ],
)
def test_a_bad_form_is_refused_and_ships_nothing(
    demo_shop, demo_shopper, demo_staff, dbsession, units, typed, message
):
    demo_shopper.buy({"TEE": 1, "MUG": 2})
    [order] = all_orders(dbsession)
    fields = fill(order, ship_form(demo_staff, order), units, **typed)

    refused = demo_staff.app.post(f"/admin/orders/{order.number}/shipments", fields, status=400)

    assert message in refused.text
    assert refused.html.select_one("#ship-form") is not None, "the form is shown again"
    nothing_shipped(dbsession, demo_shop, order, 1)


def test_lines_of_another_order_are_refused(demo_shop, demo_shopper, demo_staff, dbsession):
    demo_shopper.buy({"TEE": 1})
    demo_shopper.buy({"MUG": 1})
    mine, other = all_orders(dbsession)
    fields = ship_form(demo_staff, mine)
    # The form of the tee's order, with the mug order's line.
    fields[f"quantity-{other.lines[0].id}"] = "1"

    refused = demo_staff.app.post(f"/admin/orders/{mine.number}/shipments", fields, status=400)

    assert f"names lines that order {mine.number} does not have" in refused.text
    nothing_shipped(dbsession, demo_shop, mine, 2)
    nothing_shipped(dbsession, demo_shop, other, 2)


def test_an_order_not_paid_is_not_shipped(demo_shop, demo_shopper, demo_staff, dbsession):
    # 3-D Secure never completed: the order waits for its payment.
    demo_shopper.buy({"MUG": 2}, number=CARD_3DS, status=200)
    [order] = all_orders(dbsession)
    assert order.status == m.AWAITING_PAYMENT
    page = demo_staff.app.get(f"/admin/orders/{order.number}")
    assert page.html.select_one("#ship-form") is None, "no form to ship an unpaid order"

    refused = demo_staff.app.post(
        f"/admin/orders/{order.number}/shipments",
        {f"quantity-{order.lines[0].id}": "1", "carrier": "dhl", "csrf_token": demo_staff.token},
        status=409,
    )

    assert f"Order {order.number} is awaiting_payment: there is nothing to ship." in refused.text
    [order] = all_orders(dbsession)
    assert (order.status, shipped(order)) == (m.AWAITING_PAYMENT, {"MUG": 0})
    assert shipments(dbsession, order) == []
    api = api_ship(demo_staff, order, {"carrier": "dhl"}, status=409)
    assert "there is nothing to ship" in api.json["error"]["message"]


def test_a_form_without_its_csrf_token_ships_nothing(
    demo_shop, demo_shopper, demo_staff, dbsession
):
    demo_shopper.buy({"TEE": 1, "MUG": 2})
    [order] = all_orders(dbsession)
    fields = ship_form(demo_staff, order)
    del fields["csrf_token"]

    demo_staff.app.post(f"/admin/orders/{order.number}/shipments", fields, status=400)

    nothing_shipped(dbsession, demo_shop, order, 1)


# ---------------------------------------------------------------------------
# The staff JSON API
# ---------------------------------------------------------------------------


def test_the_api_ships_lines_and_lists_the_parcels(demo_shop, demo_shopper, demo_staff, dbsession):
    demo_shopper.buy({"TEE": 1, "MUG": 2})
    [order] = all_orders(dbsession)

    made = api_ship(
        demo_staff,
        order,
        {"lines": [{"sku": "MUG", "quantity": 2}], "carrier": "dpd", "tracking_number": "0 1"},
    ).json

    assert made["shipment"]["lines"] == [{"sku": "MUG", "name": "Blue Mug", "quantity": 2}]
    assert made["shipment"]["carrier_name"] == "DPD"
    assert made["shipment"]["tracking_url"] == "https://tracking.dpd.de/status/en_US/parcel/0%201"
    assert made["order"] == {
        "number": order.number,
        "status": m.PARTIALLY_FULFILLED,
        "still_to_ship": [{"sku": "TEE", "name": "Organic Tee", "quantity": 1}],
    }
    # Without lines: everything left.
    rest = api_ship(demo_staff, order, {"carrier": "other"}).json
    assert rest["shipment"]["lines"] == [{"sku": "TEE", "name": "Organic Tee", "quantity": 1}]
    assert rest["shipment"]["tracking_url"] == ""
    assert rest["order"]["status"] == m.FULFILLED

    listed = demo_staff.app.get(f"/api/staff/orders/{order.number}/shipments").json
    assert [s["id"] for s in listed["shipments"]] == [
        made["shipment"]["id"],
        rest["shipment"]["id"],
    ]
    assert listed["order"]["still_to_ship"] == []
    again = api_ship(demo_staff, order, {"carrier": "other"}, status=409).json
    assert (
        again["error"]["message"] == f"Order {order.number} is fulfilled: there is nothing to ship."
    )
    emails(demo_shop, 3)


def test_the_same_idempotency_key_ships_once(demo_shop, demo_shopper, demo_staff, dbsession):
    demo_shopper.buy({"MUG": 2})
    [order] = all_orders(dbsession)
    body = {"lines": [{"sku": "MUG", "quantity": 1}], "carrier": "dhl"}
    key = {"Idempotency-Key": "parcel-0001-mug"}

    first = api_ship(demo_staff, order, body, headers=key)
    second = api_ship(demo_staff, order, body, headers=key, status=200)

    assert second.json["shipment"] == first.json["shipment"]
    [order] = all_orders(dbsession)
    assert shipped(order) == {"MUG": 1}
    assert len(shipments(dbsession, order)) == 1
    emails(demo_shop, 2)


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ([1, 2], 400, None, "Send the shipment as a JSON object"),
        ({"carrier": "pigeon"}, 400, "carrier", "Choose a carrier from the list."),
        ({}, 400, "carrier", "Choose a carrier."),
        ({"carrier": 7}, 400, "carrier", 'Send "carrier" as a string.'),
        ({"carrier": "dhl", "tracking_number": "9" * 10_000}, 400, "tracking_number", "64"),
        ({"carrier": "dhl", "lines": []}, 400, "lines", 'Send "lines" as a list'),
        ({"carrier": "dhl", "lines": "MUG"}, 400, "lines", 'Send "lines" as a list'),
        ({"carrier": "dhl", "lines": [{"sku": "MUG", "quantity": 0}]}, 400, "lines", "1 or more"),
        ({"carrier": "dhl", "lines": [{"sku": "MUG", "quantity": -1}]}, 400, "lines", "1 or more"),
        ({"carrier": "dhl", "lines": [{"sku": "MUG", "quantity": "1"}]}, 400, "lines", "whole"),
        ({"carrier": "dhl", "lines": [{"sku": "MUG", "quantity": True}]}, 400, "lines", "whole"),
        ({"carrier": "dhl", "lines": [{"sku": "MUG", "quantity": 3}]}, 400, "lines", "Only 2"),
        ({"carrier": "dhl", "lines": [{"sku": "PEN", "quantity": 1}]}, 400, "lines", "has no PEN"),
        (
            {"carrier": "dhl", "lines": [{"sku": "MUG", "quantity": 1}] * 2},
            400,
            "lines",
            "MUG is listed twice",
        ),
    ],
)
def test_the_api_refuses_bad_input_and_ships_nothing(
    demo_shop, demo_shopper, demo_staff, dbsession, body, status, field, message
):
    demo_shopper.buy({"MUG": 2})
    [order] = all_orders(dbsession)

    error = api_ship(demo_staff, order, body, status=status).json["error"]

    assert message in error["message"]
    assert error.get("field") == field
    nothing_shipped(dbsession, demo_shop, order, 1)


def test_the_api_refuses_a_body_that_is_not_json(demo_shop, demo_shopper, demo_staff, dbsession):
    demo_shopper.buy({"MUG": 2})
    [order] = all_orders(dbsession)

    answer = demo_staff.app.post(
        f"/api/staff/orders/{order.number}/shipments",
        "carrier=dhl",
        headers={"X-CSRF-Token": demo_staff.token, "Content-Type": "application/json"},
        status=400,
    )

    assert "JSON object" in answer.json["error"]["message"]
    assert demo_staff.app.get("/api/staff/orders/M-999999/shipments", status=404)
    nothing_shipped(dbsession, demo_shop, order, 1)


# ---------------------------------------------------------------------------
# Who may ship
# ---------------------------------------------------------------------------


def test_customers_and_guests_cannot_reach_the_staff_routes(
    demo_shop, demo_shopper, customer_user, dbsession
):
    demo_shopper.log_in(customer_user.email)
    demo_shopper.buy({"MUG": 2}, email=customer_user.email)
    [order] = all_orders(dbsession)
    guest = demo_shop.browser()
    form = {f"quantity-{order.lines[0].id}": "2", "carrier": "dhl"}
    admin_path = f"/admin/orders/{order.number}/shipments"
    api_path = f"/api/staff/orders/{order.number}/shipments"

    # The order's own customer, logged in: 403 everywhere.
    demo_shopper.app.get(admin_path, status=403)
    demo_shopper.app.post(admin_path, {**form, "csrf_token": demo_shopper.token}, status=403)
    demo_shopper.app.get(api_path, status=403)
    api_ship(demo_shopper, order, {"carrier": "dhl"}, status=403)
    # A guest: to the login page, or 401 from the API.
    assert "/login" in guest.app.get(admin_path, status=303).location
    guest.app.post(admin_path, {**form, "csrf_token": guest.token}, status=303)
    guest.app.get(api_path, status=401)
    api_ship(guest, order, {"carrier": "dhl"}, status=401)

    nothing_shipped(dbsession, demo_shop, order, 1)
