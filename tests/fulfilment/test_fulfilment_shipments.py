"""Shipping an order in parcels, in the shop as ``mercato demo`` composes it: staff
ship part of an order from the admin's order page and the rest later; the customer
gets an email per parcel with its tracking link and sees every parcel on their order
page; the order is partially fulfilled, then fulfilled; stock is left alone."""

import threading

from mercato.orders import models as m

from . import listener
from .conftest import (
    STOCK,
    all_orders,
    emails,
    fill,
    html_of,
    post_over_http,
    ship,
    ship_form,
    shipments,
    shipped,
    stock_of,
    text_of,
)

DHL = "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode="


def test_an_order_ships_in_two_parcels_each_told_to_the_customer(
    demo_shop, demo_shopper, demo_staff, dbsession
):
    confirmation = demo_shopper.buy({"TEE": 1, "MUG": 2})
    [order] = all_orders(dbsession)
    assert order.status == m.PAID
    emails(demo_shop, 1)  # the order's confirmation

    done = ship(demo_staff, order, {"MUG": 1}, carrier="dhl", tracking_number="0034 0434/16")

    assert done.location.endswith(f"/admin/orders/{order.number}")
    assert "shipped 1 × Blue Mug with DHL, tracking 0034 0434/16" in done.follow().text
    [order] = all_orders(dbsession)
    assert order.status == m.PARTIALLY_FULFILLED
    assert shipped(order) == {"TEE": 0, "MUG": 1}
    [parcel] = shipments(dbsession, order)
    assert (parcel.carrier, parcel.tracking_number) == ("dhl", "0034 0434/16")
    assert parcel.units == {"MUG": 1}
    # The number goes into the carrier's link URL-encoded: a space or a slash in it
    # cannot change where the link leads.
    link = DHL + "0034%200434%2F16"
    assert parcel.tracking_url == link
    assert parcel.actor.startswith("admin:")

    placed, first = emails(demo_shop, 2)
    assert first["To"] == "ada@example.com"
    assert first["Subject"] == f"Part of order {order.number} is on its way — Test Shop"
    text = text_of(first)
    assert "1 x Blue Mug" in text and "with DHL" in text
    assert f"Follow it here: {link}" in text
    assert "Still to come, in another parcel:\n1 x Organic Tee\n1 x Blue Mug" in text
    assert f'href="{link}"' in html_of(first)
    # The email's link to the order is the customer's order page (its secret link).
    order_url = text.split("Your order: ")[1].split()[0]
    assert order_url.endswith(confirmation.location.split("/checkout/done/")[1])

    page = demo_shopper.app.get(order_url)
    [section] = page.html.select("section.shipments")
    [tracking] = section.select(f'a[href="{link}"]')
    assert tracking.text == "0034 0434/16"
    assert "noopener" in tracking["rel"] and tracking["target"] == "_blank"
    assert "1 × Blue Mug" in section.text
    assert "Still to ship: 1 × Organic Tee, 1 × Blue Mug" in section.text

    # The rest, with what the form proposes (everything left).
    ship(demo_staff, order, carrier="ups", tracking_number="1Z999AA10123456784")

    [order] = all_orders(dbsession)
    assert order.status == m.FULFILLED
    assert shipped(order) == {"TEE": 1, "MUG": 2}
    assert [p.units for p in shipments(dbsession, order)] == [{"MUG": 1}, {"TEE": 1, "MUG": 1}]
    *_, last = emails(demo_shop, 3)
    assert last["Subject"] == f"Order {order.number} is on its way — Test Shop"
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in text_of(last)
    assert "Still to come" not in text_of(last)

    section = demo_shopper.app.get(order_url).html.select_one("section.shipments")
    assert len(section.select("li.shipment")) == 2
    assert "Still to ship" not in section.text
    panel = demo_staff.app.get(f"/admin/orders/{order.number}").html.select_one("#shipments")
    assert len(panel.select("tr.shipment")) == 2
    assert panel.select_one("#ship-form") is None, "nothing is left to ship"

    # Shipping moves goods out of the warehouse, not out of stock: stock was taken
    # when the order was placed.
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (STOCK - 1, STOCK - 2)


def test_mercato_shipment_created_hears_each_parcel_inside_its_transaction(
    demo_shop, demo_shopper, demo_staff, dbsession
):
    demo_shopper.buy({"TEE": 1, "MUG": 2})
    [order] = all_orders(dbsession)

    ship(demo_staff, order, {"MUG": 1}, carrier="ups", tracking_number="1Z999AA10123456784")

    assert listener.HEARD == [
        {
            "number": order.number,
            # Called once the kernel has counted the units and moved the order on.
            "status": m.PARTIALLY_FULFILLED,
            "shipped": {"TEE": 0, "MUG": 1},
            "shipment": {
                "lines": {"MUG": 1},
                "carrier": "ups",
                "tracking_number": "1Z999AA10123456784",
                "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            },
        }
    ]

    # A plugin that refuses the parcel aborts it whole: nothing shipped, no email.
    listener.REFUSE.append("The warehouse system is down.")
    refused = ship(demo_staff, order, carrier="other", status=409)

    assert "The warehouse system is down." in refused.text
    [order] = all_orders(dbsession)
    assert (order.status, shipped(order)) == (m.PARTIALLY_FULFILLED, {"TEE": 0, "MUG": 1})
    assert len(shipments(dbsession, order)) == 1
    emails(demo_shop, 2)  # the confirmation and the first parcel's


def test_the_same_form_sent_twice_ships_once(demo_shop, demo_shopper, demo_staff, dbsession):
    demo_shopper.buy({"TEE": 1, "MUG": 2})
    [order] = all_orders(dbsession)
    fields = fill(order, ship_form(demo_staff, order), {"MUG": 1}, tracking_number="A1")
    url = f"/admin/orders/{order.number}/shipments"

    demo_staff.app.post(url, fields, status=303)
    again = demo_staff.app.post(url, fields, status=303).follow()

    # The form's nonce names the parcel: the second copy finds it and ships nothing.
    assert "that parcel was already recorded" in again.text
    [order] = all_orders(dbsession)
    assert shipped(order) == {"TEE": 0, "MUG": 1}
    assert len(shipments(dbsession, order)) == 1
    emails(demo_shop, 2)
    # A new form (a new nonce) ships what is left.
    ship(demo_staff, order, {"MUG": 1})
    [order] = all_orders(dbsession)
    assert shipped(order) == {"TEE": 0, "MUG": 2}


def test_two_staff_shipping_the_last_units_at_once_ship_them_once(
    demo_shop, demo_shopper, demo_staff, admin_user, dbsession
):
    demo_shopper.buy({"MUG": 2})
    [order] = all_orders(dbsession)
    other = demo_shop.browser()
    other.log_in(admin_user.email, admin_user.password)
    # Each has the order page open: two forms, two nonces, both offering both mugs.
    forms = [ship_form(staff, order) for staff in (demo_staff, other)]
    assert forms[0]["nonce"] != forms[1]["nonce"]
    start, answers = threading.Barrier(2), []

    def send(staff, fields):
        start.wait()
        path = f"/admin/orders/{order.number}/shipments"
        answers.append(post_over_http(demo_shop, staff, path, fields))

    threads = [
        threading.Thread(target=send, args=pair)
        for pair in zip((demo_staff, other), forms, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # The second is refused: by the form's check if the first had committed when it
    # read the order (400), else by the kernel once the first's row lock is released (409).
    assert len(answers) == 2 and sorted(answers)[0] == 303, answers
    assert sorted(answers)[1] in (400, 409), answers
    [order] = all_orders(dbsession)
    assert (order.status, shipped(order)) == (m.FULFILLED, {"MUG": 2})
    [parcel] = shipments(dbsession, order)
    assert parcel.units == {"MUG": 2}
    assert len(listener.HEARD) == 1
    emails(demo_shop, 2)
    assert stock_of(dbsession, "MUG") == STOCK - 2
