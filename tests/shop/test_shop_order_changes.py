"""Changes to an order after the sale, in the shop as ``mercato demo`` composes it (plus a
stand-in plugin that hears the order's events): staff cancel units before they ship with
the admin's form, the customer's order page says where the order stands, and a form
posted twice — one after the other, or at once over HTTP — refunds once.

After every step the order's money matches its lines: what was captured less what was
refunded is what its lines still owe (``owed``). Every refund is checked in localstripe,
where the real SDK made it.

The order: an Organic Tee (€24.00) and 2 Blue Mugs (€12.50), shipped to France for
€9.90, French VAT included in every price: €58.90.
"""

import threading

import pytest
import requests
from sqlalchemy import select

from mercato import cancel_order_lines, refund_amount_for
from mercato.orders import models as m
from mercato_admin.models import AuditEntry

from . import order_events_plugin
from .conftest import all_orders, demo_plugins, stock_of

STOCK = 10  # of TEE and of MUG, before the sale
EVENTS_PLUGIN = "tests.shop.order_events_plugin"


@pytest.fixture
def shop(make_demo_shop):
    """The composed shop, with the stand-in plugin that hears the order's events."""
    order_events_plugin.HEARD.clear()
    return make_demo_shop(**{"mercato.plugins": " ".join([*demo_plugins(), EVENTS_PLUGIN])})


@pytest.fixture
def shopper(shop):
    return shop.browser()


@pytest.fixture
def staff(shop, admin_user):
    browser = shop.browser()
    browser.log_in(admin_user.email, admin_user.password)
    return browser


@pytest.fixture
def order(shopper, dbsession) -> m.Order:
    shopper.buy({"TEE": 1, "MUG": 2})
    placed = the_order(dbsession)
    assert (placed.status, placed.amount_captured) == (m.PAID, 5890)
    assert_owed(placed)
    return placed


# ---------------------------------------------------------------------------
# Looking at the results
# ---------------------------------------------------------------------------


def the_order(dbsession) -> m.Order:
    [placed] = all_orders(dbsession)
    return placed


def owed(order: m.Order) -> int:
    """What the order's lines still owe the shop, in minor units: what the customer was
    charged (``mercato.refund_amount_for``: the price, the tax added on it, its share of
    the discounts) for every unit not refunded, and the shipping with its tax unless it
    was refunded."""
    units: dict[str, int] = {}
    for line in order.lines:
        if left := line.quantity - line.quantity_refunded:
            units[line.sku] = units.get(line.sku, 0) + left
    shipping = bool(order.shipping_method) and not order.shipping_refunded
    return refund_amount_for(order, units, shipping=shipping).amount


def assert_owed(order: m.Order) -> None:
    """The invariant: the money the shop keeps is exactly what the lines still owe."""
    kept = order.amount_captured - order.amount_refunded
    assert kept == owed(order), f"{order.number} keeps {kept}, its lines owe {owed(order)}"


def refunds_in_stripe(shop, order: m.Order) -> list[int]:
    reference = order.payments[-1].reference
    refunds = shop.localstripe.client().v1.refunds.list(params={"payment_intent": reference})
    return sorted(refund.amount for refund in refunds.data)


def line(order: m.Order, sku: str) -> m.OrderLine:
    [found] = [line for line in order.lines if line.sku == sku]
    return found


def audit(dbsession) -> list[tuple[str, str]]:
    dbsession.expire_all()
    entries = dbsession.scalars(select(AuditEntry).order_by(AuditEntry.id))
    return [(entry.action, entry.object_id) for entry in entries]


def heard(hook: str) -> list[dict]:
    return [event for event in order_events_plugin.HEARD if event["hook"] == hook]


# ---------------------------------------------------------------------------
# The admin's forms, as a browser posts them
# ---------------------------------------------------------------------------


def form_of(staff, order: m.Order, form: str, units: dict[str, int], field: str) -> dict:
    """The admin's form ``form`` filled in as a person would: its CSRF token and one-time
    key from the page, and ``units`` in each line's ``field`` (``cancel``, ``refund``)."""
    page = staff.app.get(f"/admin/orders/{order.number}")
    hidden = page.html.select(f"#{form}-form input[type=hidden]")
    fields = {tag["name"]: tag["value"] for tag in hidden}
    assert fields["request_key"], "the form carries its one-time key"
    for sku, count in units.items():
        name = f"{field}-{line(order, sku).position}"
        assert page.html.select_one(f"#{form}-form input[name={name}]"), f"{name} is on the form"
        fields[name] = str(count)
    return fields


def cancel_lines(staff, order: m.Order, units: dict[str, int], reason: str = "", status=303):
    fields = form_of(staff, order, "cancel-lines", units, "cancel")
    return staff.app.post(
        f"/admin/orders/{order.number}/cancel-lines", {**fields, "reason": reason}, status=status
    )


# ---------------------------------------------------------------------------
# Cancelling lines before they ship
# ---------------------------------------------------------------------------


def test_staff_cancel_a_mug_then_the_rest_and_the_shipping_comes_back_once_nothing_ships(
    shop, shopper, staff, order, dbsession
):
    done = cancel_lines(staff, order, {"MUG": 1}, reason="the last mug was chipped").follow()

    assert f"Cancelled 1 × MUG of order {order.number}: back in stock, €12.50 refunded." in (
        done.text
    )
    order = the_order(dbsession)
    assert (order.status, order.amount_refunded) == (m.PARTIALLY_REFUNDED, 1250)
    assert refunds_in_stripe(shop, order) == [1250], "one mug, VAT included"
    assert (stock_of(dbsession, "MUG"), stock_of(dbsession, "TEE")) == (STOCK - 1, STOCK - 1)
    mug = line(order, "MUG")
    assert (mug.quantity_cancelled, mug.quantity_refunded, mug.quantity_restocked) == (1, 1, 1)
    assert mug.quantity_to_ship == 1 and line(order, "TEE").quantity_to_ship == 1
    assert not order.shipping_refunded, "the rest still ships"
    assert_owed(order)

    # The customer's page says where the order stands.
    page = shopper.app.get(f"/orders/{order.access_token}")
    assert page.html.select_one("#order-status").text == "Partially refunded"
    progress = [span.text for span in page.html.select(".line-progress")]
    assert progress == ["1 cancelled · 1 refunded · 1 still to ship"]
    refunds = page.html.select_one("#refunds").find_parent("section")
    assert [td.text for td in refunds.select("tbody td.num")] == ["€12.50"]

    cancel_lines(staff, order, {"TEE": 1, "MUG": 1})

    order = the_order(dbsession)
    assert (order.status, order.amount_refunded) == (m.REFUNDED, 5890)
    assert order.shipping_refunded, "nothing ships: the shipping comes back too"
    assert refunds_in_stripe(shop, order) == [1250, 2400 + 1250 + 990]
    assert (stock_of(dbsession, "MUG"), stock_of(dbsession, "TEE")) == (STOCK, STOCK)
    assert all(line.quantity_to_ship == 0 for line in order.lines)
    assert_owed(order)
    assert audit(dbsession) == [("order.cancel_lines", order.number)] * 2
    page = shopper.app.get(f"/orders/{order.access_token}")
    assert page.html.select_one("#order-status").text == "Refunded"
    assert len(page.html.select("#refunds ~ table tbody tr")) == 2


def test_shipping_the_rest_ships_what_was_not_cancelled_and_keeps_the_shipping(
    shop, shopper, staff, order, dbsession
):
    cancel_lines(staff, order, {"MUG": 1})
    page = staff.app.get(f"/admin/orders/{order.number}")
    assert page.html.select_one("#fulfil-form") is None, "one way to ship: by parcel"
    assert page.html.select_one("#ship-pointer a")["href"] == "#shipments"

    page.forms["ship-form"].submit(status=303)  # everything left, by default

    order = the_order(dbsession)
    assert order.status == m.FULFILLED
    assert {line.sku: line.quantity_shipped for line in order.lines} == {"TEE": 1, "MUG": 1}
    assert (order.amount_refunded, order.shipping_refunded) == (1250, False)
    assert refunds_in_stripe(shop, order) == [1250]
    assert_owed(order)
    assert audit(dbsession) == [
        ("order.cancel_lines", order.number),
        ("fulfilment_admin_shipments", f"number={order.number}"),  # the parcel recorded
    ]
    admin_page = staff.app.get(f"/admin/orders/{order.number}")
    mug = admin_page.html.select(f"#line-{line(order, 'MUG').position} [data-count]")
    assert {td["data-count"]: td.text for td in mug} == {
        "shipped": "1",
        "cancelled": "1",
        "refunded": "1",
        "restocked": "1",
        "to_ship": "0",
    }
    assert admin_page.html.select_one("#cancel-lines-form") is None, "nothing left to cancel"
    totals = [th.text for th in admin_page.html.select("#lines-title ~ .table-wrap tfoot th")]
    assert "VAT 20% (included)" in totals, "a rate named with its rate is not shown twice"
    mine = shopper.app.get(f"/orders/{order.access_token}")
    assert mine.html.select_one("#order-status").text == "Shipped"
    assert [s.text for s in mine.html.select(".line-progress")] == [
        "1 shipped",
        "1 shipped · 1 cancelled · 1 refunded",
    ]


# ---------------------------------------------------------------------------
# A form posted twice refunds once
# ---------------------------------------------------------------------------

FORMS = {
    # form: (the units field, what the mug's line counts afterwards)
    "cancel-lines": ("cancel", {"quantity_cancelled": 1, "quantity_refunded": 1}),
    "refund": ("refund", {"quantity_cancelled": 0, "quantity_refunded": 1}),
}


@pytest.mark.parametrize("form", FORMS)
def test_the_same_form_posted_twice_at_once_over_http_then_again_refunds_once(
    shop, staff, order, dbsession, form
):
    field, counts = FORMS[form]
    fields = form_of(staff, order, form, {"MUG": 1}, field)
    url = f"{shop.url}/admin/orders/{order.number}/{form}"
    start, answers = threading.Barrier(2), []

    def post():
        # A browser of its own with the staff member's cookies: a double click.
        browser = requests.Session()
        browser.cookies.update(dict(staff.app.cookies))
        start.wait()
        answer = browser.post(url, data=fields, allow_redirects=False, timeout=60)
        answers.append(answer.status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # And the page submitted again later (the browser's back button, a reload).
    staff.app.post(f"/admin/orders/{order.number}/{form}", fields, status=303)

    assert answers == [303, 303], "both see the order page, neither an error"
    order = the_order(dbsession)
    assert refunds_in_stripe(shop, order) == [1250]
    assert order.amount_refunded == 1250
    mug = line(order, "MUG")
    assert {name: getattr(mug, name) for name in counts} == counts
    assert dbsession.scalars(select(m.Refund.amount)).all() == [1250]
    assert len(audit(dbsession)) == 1, "one staff action, one entry"
    assert len(heard("mercato_order_refunded")) == 1
    assert_owed(order)


# ---------------------------------------------------------------------------
# The hooks other plugins hear
# ---------------------------------------------------------------------------


def test_mercato_order_changed_is_heard_with_the_lines_cancelled_and_their_refund(
    staff, order, dbsession
):
    cancel_lines(staff, order, {"MUG": 1})
    cancel_lines(staff, order, {"TEE": 1, "MUG": 1})

    assert heard("mercato_order_changed") == [
        {
            "hook": "mercato_order_changed",
            "number": order.number,
            "kind": "lines_cancelled",
            "lines": {"MUG": 1},
            "refund": 1250,
            "cancelled": {"TEE": 0, "MUG": 1},  # counted before the hook is called
        },
        {
            "hook": "mercato_order_changed",
            "number": order.number,
            "kind": "lines_cancelled",
            "lines": {"TEE": 1, "MUG": 1},
            "refund": 2400 + 1250 + 990,
            "cancelled": {"TEE": 1, "MUG": 2},
        },
    ]
    assert_owed(the_order(dbsession))


def test_mercato_order_refunded_is_heard_once_for_each_refund_made(staff, order, dbsession):
    cancel_lines(staff, order, {"MUG": 1})
    fields = form_of(staff, order, "refund", {"TEE": 1}, "refund")
    staff.app.post(f"/admin/orders/{order.number}/refund", fields, status=303)
    body = {"lines": [{"sku": "MUG", "quantity": 1}]}
    headers = {"X-CSRF-Token": staff.token, "Idempotency-Key": "erp-sync-1"}
    for _ in range(2):  # a retried request: the same key, one refund
        staff.app.post_json(f"/api/staff/orders/{order.number}/refunds", body, headers=headers)

    assert [(e["refund"], e["amount_refunded"]) for e in heard("mercato_order_refunded")] == [
        (1250, 1250),
        (2400, 3650),
        (1250, 4900),
    ]
    order = the_order(dbsession)
    assert refunds_in_stripe(order=order, shop=staff.shop) == [1250, 1250, 2400]
    assert (order.status, order.amount_refunded) == (m.PARTIALLY_REFUNDED, 4900)
    assert_owed(order)  # the shipping, still owed: nothing was said about it
    assert [action for action, _ in audit(dbsession)] == [
        "order.cancel_lines",
        "order.refund",
        "api_order_refunds",
        "api_order_refunds",
    ]


def test_cancel_order_lines_asked_again_with_its_key_cancels_and_refunds_once(
    shop, order, dbsession
):
    """The kernel's own guard, for every caller (a view, a plugin, a retried job)."""
    registry = shop.app.registry
    first = cancel_order_lines(
        registry, dbsession, order, {"MUG": 1}, actor="test", request_key="same-key"
    )
    dbsession.commit()
    again = cancel_order_lines(
        registry, dbsession, the_order(dbsession), {"MUG": 1}, actor="test", request_key="same-key"
    )
    dbsession.commit()

    assert again.id == first.id
    order = the_order(dbsession)
    assert {line.sku: line.quantity_cancelled for line in order.lines} == {"TEE": 0, "MUG": 1}
    assert order.amount_refunded == 1250
    assert stock_of(dbsession, "MUG") == STOCK - 1
    assert_owed(order)
