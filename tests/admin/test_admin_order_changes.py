"""After the sale, on the admin's order page: staff cancel units that have not shipped
(back in stock, refunded through the real payment plugin against localstripe), see what
became of each line, and a form posted twice (a double click) refunds once."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mercato import ship_order_lines
from mercato.orders import models as m

from .conftest import add_order, audit_entries, order, stock

FULFILMENT = {"mercato.capture": "fulfilment"}


@pytest.fixture
def mug(products):
    return products("MUG", price=1250, stock=10, name="Blue mug")


def form_fields(page, form: str) -> dict[str, str]:
    """The hidden fields of one of the page's forms: its CSRF token and one-time key."""
    hidden = page.html.select(f"#{form} input[type=hidden]")
    return {field["name"]: field["value"] for field in hidden}


def cancel_lines(browser, number: str, status=303, **fields):
    page = browser.get(f"/admin/orders/{number}")
    posted = {**form_fields(page, "cancel-lines-form"), **fields}
    return browser.post(f"/admin/orders/{number}/cancel-lines", posted, status=status)


def in_stripe(localstripe, kept: m.Order) -> list[int]:
    refunds = localstripe.client().v1.refunds.list(
        params={"payment_intent": kept.payments[-1].reference}
    )
    return sorted(r.amount for r in refunds.data)


def counts(page, position: int) -> dict[str, str]:
    """What the lines table says became of a line's units."""
    cells = page.html.select(f"#line-{position} [data-count]")
    return {cell["data-count"]: cell.text for cell in cells}


def ship(staff, number: str, units: dict[str, int]) -> None:
    """Some units leave in a parcel, as the fulfilment plugin records one."""
    registry = staff.app.registry
    with Session(registry.db_engine) as session, session.begin():
        placed = session.scalars(select(m.Order).where(m.Order.number == number)).one()
        ship_order_lines(registry, session, placed, units, actor="system")


def test_staff_cancel_units_not_shipped_which_go_back_in_stock_and_are_refunded(
    checkout, mug, staff, staff_user, dbsession, localstripe
):
    number = checkout().buy(mug, 3)
    assert stock(dbsession, mug) == 7

    done = cancel_lines(staff, number, reason="out of stock at the warehouse", **{"cancel-1": "1"})

    page = done.follow()
    assert f"Cancelled 1 × MUG of order {number}: back in stock, €12.50 refunded." in page.text
    kept = order(dbsession, number)
    assert (kept.status, kept.amount_refunded) == (m.PARTIALLY_REFUNDED, 1250)
    line = kept.lines[0]
    assert (line.quantity_cancelled, line.quantity_refunded, line.quantity_restocked) == (1, 1, 1)
    assert line.quantity_to_ship == 2
    assert stock(dbsession, mug) == 8
    assert in_stripe(localstripe, kept) == [1250]
    assert kept.history[-1].reason == "out of stock at the warehouse"
    assert kept.history[-1].actor == f"staff:{staff_user.id}"
    [entry] = audit_entries(dbsession)
    assert (entry.action, entry.object_id, entry.actor_email) == (
        "order.cancel_lines",
        number,
        staff_user.email,
    )
    assert entry.summary == (
        "Cancelled 1 × MUG before shipping, refunded €12.50 (out of stock at the warehouse)"
    )
    assert counts(page, 1) == {
        "shipped": "0",
        "cancelled": "1",
        "refunded": "1",
        "restocked": "1",
        "to_ship": "2",
    }
    hint = page.html.select_one("#cancel-lines-cancel-1").find_next("p", class_="hint")
    assert hint.text == "2 of 3 still to ship."


def test_more_than_is_left_to_ship_is_refused_next_to_the_line(
    checkout, mug, staff, dbsession, localstripe
):
    number = checkout().buy(mug, 2)
    ship(staff, number, {"MUG": 1})

    refused = cancel_lines(staff, number, status=400, **{"cancel-1": "2"})

    assert refused.html.select_one("#cancel-lines-cancel-1-error").text == (
        f"Only 1 × Blue mug of order {number} is left to cancel."
    )
    assert refused.html.select_one("#cancel-lines-cancel-1")["value"] == "2", "the form is kept"
    kept = order(dbsession, number)
    assert (kept.status, kept.amount_refunded, kept.lines[0].quantity_cancelled) == (
        m.PARTIALLY_FULFILLED,
        0,
        0,
    )
    assert in_stripe(localstripe, kept) == []
    assert stock(dbsession, mug) == 8
    assert audit_entries(dbsession) == []


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [
        ({"cancel-1": "-1"}, "#cancel-lines-cancel-1-error", "Cancel 0 or more."),
        ({"cancel-1": "one"}, "#cancel-lines-cancel-1-error", '"one" is not a number'),
        ({"cancel-1": "0"}, "#cancel-lines-form [role=alert]", "Say how many units"),
        ({"cancel-7": "1"}, "#cancel-lines-form [role=alert]", "has no cancel-7"),
        ({"request_key": "not a key"}, "#cancel-lines-form [role=alert]", "reload the page"),
    ],
)
def test_a_cancellation_that_is_not_units_of_this_order_is_refused(
    checkout, mug, staff, dbsession, localstripe, fields, where, message
):
    number = checkout().buy(mug, 2)
    refused = cancel_lines(staff, number, status=400, **{"cancel-1": "1", **fields})
    assert message in refused.html.select_one(where).text
    kept = order(dbsession, number)
    assert (kept.status, kept.amount_refunded) == (m.PAID, 0)
    assert in_stripe(localstripe, kept) == []
    assert stock(dbsession, mug) == 8


def test_units_taken_off_an_authorized_order_are_released_not_refunded(
    checkout, mug, staff, dbsession, localstripe
):
    number = checkout(**FULFILMENT).buy(mug, 2)
    page = staff.get(f"/admin/orders/{number}")
    assert page.html.select_one("#cancel-form") is not None, "the whole-order cancel stays"
    form = {**form_fields(page, "cancel-lines-form"), "cancel-1": "1"}

    staff.post(f"/admin/orders/{number}/cancel-lines", form, status=303)

    placed = order(dbsession, number)
    assert placed.status == m.AUTHORIZED, "nothing was taken: nothing to refund"
    line = placed.lines[0]
    assert (line.quantity_cancelled, line.quantity_released, line.quantity_refunded) == (1, 1, 0)
    assert dbsession.scalars(select(m.Refund)).all() == []
    assert stock(dbsession, mug) == 9


def test_the_same_cancel_form_posted_twice_cancels_and_refunds_once(
    checkout, mug, staff, dbsession, localstripe
):
    number = checkout().buy(mug, 3)
    page = staff.get(f"/admin/orders/{number}")
    form = {**form_fields(page, "cancel-lines-form"), "cancel-1": "1"}
    assert len(form["request_key"]) >= 16

    staff.post(f"/admin/orders/{number}/cancel-lines", form, status=303)
    again = staff.post(f"/admin/orders/{number}/cancel-lines", form, status=303).follow()

    assert f"Already done: €12.50 was refunded for order {number}." in again.text
    kept = order(dbsession, number)
    assert (kept.amount_refunded, kept.lines[0].quantity_cancelled) == (1250, 1)
    assert in_stripe(localstripe, kept) == [1250]
    assert stock(dbsession, mug) == 8
    assert [e.action for e in audit_entries(dbsession)] == ["order.cancel_lines"]
    fresh = form_fields(again, "cancel-lines-form")["request_key"]
    assert fresh != form["request_key"], "the page shown next carries a new key"


def test_the_same_refund_form_posted_twice_refunds_once(
    checkout, mug, staff, dbsession, localstripe
):
    number = checkout().buy(mug, 2)
    page = staff.get(f"/admin/orders/{number}")
    form = {**form_fields(page, "refund-form"), "refund-1": "1"}

    staff.post(f"/admin/orders/{number}/refund", form, status=303)
    staff.post(f"/admin/orders/{number}/refund", form, status=303)

    kept = order(dbsession, number)
    assert (kept.amount_refunded, kept.lines[0].quantity_refunded) == (1250, 1)
    assert in_stripe(localstripe, kept) == [1250]
    assert [e.action for e in audit_entries(dbsession)] == ["order.refund"]
    # A new page, a new key: the second unit is a refund of its own.
    staff.post(
        f"/admin/orders/{number}/refund",
        {**form_fields(staff.get(f"/admin/orders/{number}"), "refund-form"), "refund-1": "1"},
        status=303,
    )
    assert in_stripe(localstripe, order(dbsession, number)) == [1250, 1250]


def test_a_partly_shipped_order_says_so_and_ships_the_rest_with_mark_as_shipped(
    checkout, mug, staff, dbsession
):
    number = checkout().buy(mug, 3)
    ship(staff, number, {"MUG": 1})

    page = staff.get(f"/admin/orders/{number}")
    assert page.html.select_one("h1 .badge").text == "Partially shipped"
    assert counts(page, 1)["shipped"] == "1" and counts(page, 1)["to_ship"] == "2"
    assert page.html.select_one("#fulfil-form button").text == "Mark the rest as shipped"
    assert page.html.select_one("#cancel-lines-cancel-1") is not None
    assert page.html.select_one("#refund-form") is not None

    page.forms["fulfil-form"].submit().follow()

    shipped = order(dbsession, number)
    assert (shipped.status, shipped.lines[0].quantity_shipped) == (m.FULFILLED, 3)
    after = staff.get(f"/admin/orders/{number}")
    assert after.html.select_one("h1 .badge").text == "Shipped"
    assert after.html.select_one("#fulfil-form") is None
    assert after.html.select_one("#cancel-lines-form") is None, "nothing is left to cancel"


def test_the_order_list_filters_partly_shipped_orders(staff, db_engine):
    add_order(db_engine, "M-PART", status=m.PARTIALLY_FULFILLED)
    add_order(db_engine, "M-PAID", status=m.PAID)

    page = staff.get("/admin/orders", {"status": m.PARTIALLY_FULFILLED})

    assert [a.text for a in page.html.select("main tbody td:first-child a")] == ["M-PART"]
    option = page.html.select_one(f"#status option[value={m.PARTIALLY_FULFILLED}]")
    assert option.text == "Partially shipped" and option.has_attr("selected")
