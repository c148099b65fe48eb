"""Which events the composed shop records and what their bodies say: the order's life
(placed, paid, shipped, refunded, cancelled), stock running low and products changed,
from the checkout, the admin's forms, the staff JSON API and the CSV import; and a
change that is rolled back sends nothing."""

import pytest
from sqlalchemy import event
from webtest import Upload

from mercato.ops.outbox import Worker
from tests.fulfilment.conftest import ship
from tests.shop.conftest import CARD_3DS

from .conftest import add_endpoint, all_orders, bodies, deliveries_of, events_of


@pytest.fixture
def endpoint(dbsession, receiver):
    return add_endpoint(dbsession, receiver.url)


def sent(receiver, event_type: str) -> list[dict]:
    """The bodies of ``event_type`` the receiver accepted, in order."""
    return [body for body in bodies(receiver.delivered()) if body["type"] == event_type]


def deliver_waiting(shop) -> None:
    """What ``mercato worker`` does: events recorded outside a request (a capture after
    the commit) wait for it."""
    Worker(shop.app.registry).run_once()


def test_order_placed_paid_and_shipped_with_the_parcel(
    demo_shop, demo_shopper, demo_staff, dbsession, receiver, endpoint
):
    demo_shopper.buy({"TEE": 2, "MUG": 1})
    deliver_waiting(demo_shop)
    [order] = all_orders(dbsession)

    [placed] = sent(receiver, "order.placed")
    assert placed["id"].startswith("evt_") and placed["data"]["order"]["number"] == order.number
    assert placed["data"]["order"]["status"] == "awaiting_payment"
    lines = {line["sku"]: line["quantity"] for line in placed["data"]["order"]["lines"]}
    assert lines == {"TEE": 2, "MUG": 1}
    [paid] = sent(receiver, "order.paid")
    assert paid["data"]["order"]["amount_captured"] == {
        "amount": order.amount_captured,
        "currency": "EUR",
    }

    ship(demo_staff, order, tracking_number="TRACK123")  # the fulfilment plugin's form

    [shipped] = sent(receiver, "order.shipped")
    assert shipped["data"]["order"]["status"] in ("fulfilled", "partially_fulfilled")
    shipment = shipped["data"]["shipment"]
    assert shipment["tracking_number"] == "TRACK123" and shipment["lines"]


def test_an_endpoint_gets_the_events_it_asked_for_and_a_disabled_one_none(
    demo_shop, demo_shopper, dbsession, receiver
):
    add_endpoint(dbsession, receiver.url, events=["order.paid"])
    add_endpoint(dbsession, receiver.url, events=["order.paid"], enabled=False)
    add_endpoint(dbsession, receiver.url, events=["stock.low", "product.changed"])
    demo_shopper.buy({"TEE": 1})
    deliver_waiting(demo_shop)

    assert [body["type"] for body in bodies(receiver.delivered())] == ["order.paid"]
    assert {event.type for event in events_of(dbsession)} == {"order.paid"}


def admin_order_form(staff, order, form_id: str, **fields):
    """Submit a form of the admin's order page as a browser would."""
    form = staff.app.get(f"/admin/orders/{order.number}").forms[form_id]
    for name, value in fields.items():
        form[name] = value
    return form.submit(status=303)


def test_order_refunded_and_cancelled(
    demo_shop, demo_shopper, demo_staff, dbsession, receiver, endpoint
):
    demo_shopper.buy({"TEE": 1})
    [order] = all_orders(dbsession)
    admin_order_form(demo_staff, order, "refund-form", amount="5.00", reason="scratched")
    [refunded] = sent(receiver, "order.refunded")
    assert refunded["data"]["refund"]["amount"] == {"amount": 500, "currency": "EUR"}
    assert refunded["data"]["refund"]["reason"] == "scratched"
    assert refunded["data"]["order"]["amount_refunded"]["amount"] == 500

    demo_shop.browser().buy({"MUG": 1}, number=CARD_3DS, status=200)  # 3-D Secure never done
    unpaid = all_orders(dbsession)[-1]
    admin_order_form(demo_staff, unpaid, "cancel-form", reason="never paid")
    [cancelled] = sent(receiver, "order.cancelled")
    assert cancelled["data"]["order"]["number"] == unpaid.number
    assert cancelled["data"]["order"]["status"] == "cancelled"


def test_mercato_stock_low_once_when_a_sale_crosses_the_threshold(
    demo_shop, demo_shopper, dbsession, receiver, endpoint
):
    demo_shopper.buy({"TEE": 4})  # 10 → 6: above the threshold (5)
    assert sent(receiver, "stock.low") == []
    demo_shop.browser().buy({"TEE": 1})  # 6 → 5: low
    demo_shop.browser().buy({"TEE": 1})  # 5 → 4: still low, not again

    [low] = sent(receiver, "stock.low")
    assert low["data"] == {"sku": "TEE", "stock": 5, "threshold": 5}


def test_mercato_stock_low_from_the_stock_page_and_its_threshold_setting(
    make_demo_shop, dbsession, receiver, admin_user
):
    shop = make_demo_shop(
        **{
            "mercato.webhooks.allow_private_targets": "true",
            "mercato.catalog.low_stock": "8",
        }
    )
    add_endpoint(dbsession, receiver.url, events=["stock.low"])
    staff = shop.browser()
    staff.log_in(admin_user.email, admin_user.password)
    form = staff.app.get("/admin/catalog/stock").forms["stock-form"]
    mug = next(name for name in form.fields if name.endswith("-stock") and form[name].value)
    form[mug] = "8"  # both variants show 10; the first row is the mug (by name)
    form.submit(status=303)

    [low] = sent(receiver, "stock.low")
    assert low["data"]["stock"] == 8 and low["data"]["threshold"] == 8


def test_mercato_product_changed_from_the_staff_api_the_admin_and_a_csv_import(
    demo_shop, demo_staff, dbsession, receiver, endpoint
):
    headers = {"X-CSRF-Token": demo_staff.token}
    demo_staff.app.post_json(
        "/api/staff/products",
        {"name": "Wool Hat", "variants": [{"sku": "HAT", "price": "19.00", "stock": 3}]},
        headers=headers,
        status=201,
    )
    demo_staff.app.patch_json(
        "/api/staff/products/wool-hat", {"name": "Warm Wool Hat"}, headers=headers
    )
    page = demo_staff.app.get("/admin/catalog/products/wool-hat/edit")
    page.forms["delete-form"].submit(status=303)

    changes = [(body["data"]["change"], body["data"]["product"]["name"])
               for body in sent(receiver, "product.changed")]  # fmt: skip
    assert changes == [("created", "Wool Hat"), ("updated", "Warm Wool Hat"),
                       ("deleted", "Warm Wool Hat")]  # fmt: skip
    created = sent(receiver, "product.changed")[0]["data"]["product"]
    assert created["variants"][0]["sku"] == "HAT"
    assert created["variants"][0]["price"] == {"amount": 1900, "currency": "EUR"}

    csv = (
        b"product_slug,product_name,sku,price,stock\n"
        b"scarf,Silk Scarf,SCARF,30.00,7\n"
        b"tee,Organic Tee,TEE,25.00,10\n"  # a new price
    )
    for _ in range(2):  # the second import of the same file changes nothing
        form = demo_staff.app.get("/admin/catalog/csv").forms["import-form"]
        form["file"] = Upload("catalog.csv", csv, "text/csv")
        form.submit(status=303)
    imported = [body["data"] for body in sent(receiver, "product.changed")[3:]]
    assert [(data["change"], data["product"]["slug"]) for data in imported] == [
        ("created", "scarf"),
        ("updated", "tee"),
    ]
    assert imported[1]["product"]["variants"][0]["price"]["amount"] == 2500


def import_csv(staff, csv: bytes) -> None:
    form = staff.app.get("/admin/catalog/csv").forms["import-form"]
    form["file"] = Upload("catalog.csv", csv, "text/csv")
    form.submit(status=303)


def test_the_endpoints_are_asked_for_once_per_transaction_and_afresh_in_the_next(
    demo_shop, demo_staff, dbsession, receiver
):
    asked: list[str] = []  # which endpoints want an event (not the delivery's reads)
    event.listen(
        demo_shop.app.registry.db_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: (
            asked.append(statement) if "WHERE webhooks_endpoints.enabled AND" in statement else None
        ),
    )
    header = b"product_slug,product_name,sku,price,stock\n"
    import_csv(demo_staff, header + b"scarf,Silk Scarf,SCARF,30.00,7\nhat,Wool Hat,HAT,19.00,8\n")
    assert len(asked) == 1, "two products changed, one question"
    assert events_of(dbsession) == []  # nobody asked for them

    add_endpoint(dbsession, receiver.url)
    import_csv(demo_staff, header + b"scarf,Silk Scarf,SCARF,31.00,7\nhat,Wool Hat,HAT,20.00,8\n")
    assert len(asked) == 2
    prices = [(body["data"]["product"]["slug"], body["data"]["product"]["variants"][0]["price"])
              for body in sent(receiver, "product.changed")]  # fmt: skip
    assert prices == [
        ("scarf", {"amount": 3100, "currency": "EUR"}),
        ("hat", {"amount": 2000, "currency": "EUR"}),
    ]


def test_a_rolled_back_change_sends_nothing(demo_shop, demo_staff, dbsession, receiver, endpoint):
    # A stock edit that takes TEE to the threshold, in a form another field of which is
    # wrong: the form answers 400 and its transaction, events included, rolls back.
    page = demo_staff.app.get("/admin/catalog/products/tee/edit")
    form = page.forms["product-form"]
    stock = next(name for name in form.fields if name.endswith("-stock"))
    form[stock] = "2"
    form["slug"] = "Not A Slug!"
    form.submit(status=400)

    deliver_waiting(demo_shop)
    assert receiver.requests == []
    assert events_of(dbsession) == [] and deliveries_of(dbsession) == []

    # The same edit without the mistake is sent: the rollback, not the edit, was silent.
    form["slug"] = "tee"
    form.submit(status=303)
    assert {body["type"] for body in bodies(receiver.delivered())} == {
        "stock.low",
        "product.changed",
    }


def test_account_erased_tells_the_endpoints_to_erase_the_customer_too(
    demo_shop, dbsession, receiver, endpoint
):
    shopper = demo_shop.browser()
    password = "a long passphrase"
    answer = shopper.app.post_json(
        "/api/account/register",
        {"name": "Erin", "email": "erin@example.com", "password": password,
         "password_confirm": password},
        headers={"X-CSRF-Token": shopper.token},
        status=201,
    )  # fmt: skip
    customer_id = answer.json["user"]["id"]
    shopper.app.delete_json(
        "/api/account",
        {"password": password},
        headers={"X-CSRF-Token": answer.json["csrf_token"]},
        status=204,
    )

    [erased] = sent(receiver, "account.erased")
    assert erased["data"] == {"customer": {"id": customer_id, "email": "erin@example.com"}}
