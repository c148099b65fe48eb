"""The staff orders list with filters and the capture of an authorized order
(``mercato_api.staff_orders``), through the JSON API against localstripe."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mercato.orders import models as m
from mercato.testing import login

from .buying import NEW_YORK, ApiShopper


def the_order(dbsession, number: str) -> m.Order:
    dbsession.expire_all()
    return dbsession.scalars(select(m.Order).where(m.Order.number == number)).one()


def numbers(answer) -> list[str]:
    return [order["number"] for order in answer.json["orders"]]


def test_the_orders_list_filters_by_status_email_day_and_pages(shop, localstripe, staff, dbsession):
    paid = ApiShopper(shop(), localstripe).buy({"MUG": 1})["number"]
    authorized_shopper = ApiShopper(shop(**{"mercato.capture": "fulfilment"}), localstripe)
    authorized = authorized_shopper.buy({"TEE": 1}, NEW_YORK)["number"]
    order = the_order(dbsession, authorized)
    order.email = "grace@example.org"
    order.created_at = datetime.now(UTC) - timedelta(days=3)
    dbsession.commit()
    today = datetime.now(UTC).date()

    everything = staff.app.get("/api/staff/orders")
    assert numbers(everything) == [paid, authorized], "newest first"
    assert everything.json["total"] == 2 and everything.json["pages"] == 1
    listed = everything.json["orders"][0]
    assert (listed["status"], listed["total"]["currency"]) == ("paid", "EUR")
    assert listed["captured"] == listed["total"]

    assert numbers(staff.app.get("/api/staff/orders?status=authorized")) == [authorized]
    assert numbers(staff.app.get("/api/staff/orders?q=GRACE@")) == [authorized]
    assert numbers(staff.app.get(f"/api/staff/orders?q={paid}")) == [paid]
    assert numbers(staff.app.get(f"/api/staff/orders?created_from={today}")) == [paid]
    assert numbers(staff.app.get(f"/api/staff/orders?created_to={today - timedelta(days=1)}")) == [
        authorized
    ]
    second = staff.app.get("/api/staff/orders?per_page=1&page=2")
    assert numbers(second) == [authorized]
    assert (second.json["page"], second.json["pages"]) == (2, 2)


def test_bad_filters_are_refused_naming_the_filter(staff):
    refused = staff.app.get("/api/staff/orders?status=lost&per_page=500", status=400).json
    assert set(refused["error"]["fields"]) == {"status", "per_page"}
    swapped = "/api/staff/orders?created_from=2026-02-02&created_to=2026-02-01"
    assert staff.app.get(swapped, status=400).json["error"]["field"] == "created_to"
    assert staff.app.get("/api/staff/orders?created_from=yesterday", status=400)


def test_customers_and_guests_cannot_list_orders(shop, customer_user):
    assert shop().get("/api/staff/orders", status=401).json["error"]["status"] == 401
    customer = shop()
    login(customer, customer_user.email)
    assert customer.get("/api/staff/orders", status=403).json["error"]["status"] == 403


def test_capture_takes_the_authorized_money_once(shop, localstripe, staff, dbsession):
    shopper = ApiShopper(shop(**{"mercato.capture": "fulfilment"}), localstripe)
    number = shopper.buy({"MUG": 2})["number"]
    assert the_order(dbsession, number).status == m.AUTHORIZED

    captured = staff.post(f"/api/staff/orders/{number}/capture", {}).json["order"]

    assert captured["status"] == "paid"
    assert captured["captured"] == captured["total"]
    order = the_order(dbsession, number)
    intent = localstripe.client().v1.payment_intents.retrieve(order.payments[0].reference)
    assert (intent.status, intent.amount) == ("succeeded", order.total.amount)
    again = staff.post(f"/api/staff/orders/{number}/capture", {}, status=409).json
    assert again["error"]["message"] == f"Order {number} is paid: there is nothing to capture."
    assert staff.post("/api/staff/orders/M-404/capture", {}, status=404)
