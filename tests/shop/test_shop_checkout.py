"""Checkout in the shop exactly as ``mercato demo`` composes it: guests and customers,
declined cards and 3-D Secure, looked at in the database, localstripe and the mailbox."""

import re
import time
from contextlib import contextmanager

from sqlalchemy import event, select, text

from mercato.orders import models as m
from mercato.outbox import notify_plugins
from tests.fulfilment.conftest import ship

from .conftest import CARD_3DS, CARD_DECLINED, all_orders, stock_of

# How long an email that should not come is waited for: the notifications plugin sends
# right after the commit, well within this.
QUIET = 0.5


def assert_emails(smtp_server, count: int) -> list:
    """Exactly ``count`` emails: waits for them, then for any extra one."""
    smtp_server.wait_for(count)
    time.sleep(QUIET)
    messages = smtp_server.messages
    assert len(messages) == count, [message["Subject"] for message in messages]
    return messages


def payments(dbsession) -> list[m.Payment]:
    dbsession.expire_all()
    return dbsession.scalars(select(m.Payment).order_by(m.Payment.id)).all()


def cart_page_is_empty(shopper) -> bool:
    return "Your cart is empty." in shopper.app.get("/cart").text


def test_a_guest_checkout_takes_stock_empties_the_cart_and_sends_one_email(
    demo_shopper, demo_shop, dbsession
):
    demo_shopper.buy({"TEE": 1})

    [order] = all_orders(dbsession)
    assert order.status == m.PAID
    assert order.customer_id is None
    assert stock_of(dbsession, "TEE") == 9
    assert demo_shopper.cart() == {}
    assert cart_page_is_empty(demo_shopper)
    [email] = assert_emails(demo_shop.smtp, 1)
    assert email["To"] == "ada@example.com"
    assert order.number in email.get_body(("plain",)).get_content()


def test_a_customer_checkout_empties_the_cart_and_lists_the_order(
    demo_shopper, demo_shop, customer_user, dbsession
):
    demo_shopper.log_in(customer_user.email)

    confirmation = demo_shopper.buy({"TEE": 1, "MUG": 2}, email=customer_user.email).follow()

    [order] = all_orders(dbsession)
    assert order.status == m.PAID and order.customer_id == customer_user.id
    assert [(line.sku, line.quantity) for line in order.lines] == [("TEE", 1), ("MUG", 2)]
    assert order.number in confirmation.text
    assert demo_shopper.cart() == {}, "the customer's cart is emptied once the order committed"
    assert cart_page_is_empty(demo_shopper)
    assert order.number in demo_shopper.app.get("/account/orders").text
    [email] = assert_emails(demo_shop.smtp, 1)
    assert email["To"] == customer_user.email
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (9, 8)


def test_a_guest_who_logs_in_keeps_the_cart_and_buys_it_as_the_customer(
    demo_shopper, customer_user, dbsession
):
    demo_shopper.add("TEE")
    demo_shopper.add("MUG", 2)
    demo_shopper.log_in(customer_user.email)
    assert demo_shopper.cart() == {"TEE": 1, "MUG": 2}, "the guest's lines moved to the customer"

    demo_shopper.address()
    demo_shopper.pay()

    [order] = all_orders(dbsession)
    assert order.status == m.PAID and order.customer_id == customer_user.id
    assert {line.sku: line.quantity for line in order.lines} == {"TEE": 1, "MUG": 2}
    demo_shopper.app.post("/logout", {"csrf_token": demo_shopper.token}, status=303)
    assert demo_shopper.cart() == {}, "logged out, the guest's old cart is not back"


def test_the_lines_a_login_merges_keep_the_order_the_guest_added_them_in(
    demo_shopper, customer_user
):
    """One change merges them all (not listed by SKU: the mug would come first)."""
    demo_shopper.add("TEE")
    demo_shopper.add("MUG")
    demo_shopper.log_in(customer_user.email)
    lines = demo_shopper.app.get("/api/cart").json["lines"]
    assert [line["sku"] for line in lines] == ["TEE", "MUG"]


def test_the_cart_cookie_names_the_customers_cart_until_they_log_out(
    demo_shopper, customer_user, make_user
):
    """Logged in, the cart's cookie names the customer's cart (read with the session,
    one round trip less), and another customer's once they log in on the same
    browser; logged out, the browser forgets it at the next page, and an add starts a
    guest's cart."""
    demo_shopper.add("TEE")
    demo_shopper.log_in(customer_user.email)
    assert demo_shopper.app.cookies["mercato_cart"] == f"u{customer_user.id}"
    assert demo_shopper.cart() == {"TEE": 1}
    demo_shopper.app.post("/logout", {"csrf_token": demo_shopper.token}, status=303)
    partner = make_user("partner@example.com")
    demo_shopper.log_in(partner.email)
    assert demo_shopper.app.cookies["mercato_cart"] == f"u{partner.id}"
    assert demo_shopper.cart() == {}

    demo_shopper.app.post("/logout", {"csrf_token": demo_shopper.token}, status=303)
    demo_shopper.app.get("/")
    assert "mercato_cart" not in demo_shopper.app.cookies
    demo_shopper.add("MUG")
    assert demo_shopper.app.cookies["mercato_cart"].startswith("g")
    assert demo_shopper.cart() == {"MUG": 1}


def test_a_customers_second_purchase_is_a_new_order_with_its_own_payment(
    demo_shopper, demo_shop, customer_user, dbsession
):
    demo_shopper.log_in(customer_user.email)
    demo_shopper.buy({"TEE": 1})

    second = demo_shopper.buy({"MUG": 1}).follow()

    first_order, second_order = all_orders(dbsession)
    assert [line.sku for line in second_order.lines] == ["MUG"]
    assert second_order.number in second.text and first_order.number not in second.text
    assert first_order.checkout_id != second_order.checkout_id
    assert (first_order.status, second_order.status) == (m.PAID, m.PAID)
    intents = demo_shop.localstripe.payment_intents()
    # Each with 9.90 of shipping to France.
    assert sorted((pi.amount, pi.status) for pi in intents) == [
        (2240, "succeeded"),
        (3390, "succeeded"),
    ]
    assert demo_shopper.cart() == {}
    assert cart_page_is_empty(demo_shopper)
    assert (stock_of(dbsession, "TEE"), stock_of(dbsession, "MUG")) == (9, 9)
    assert_emails(demo_shop.smtp, 2)


def test_a_declined_card_keeps_the_cart_and_another_card_pays(demo_shopper, demo_shop, dbsession):
    declined = demo_shopper.buy({"TEE": 2}, number=CARD_DECLINED, status=402)

    assert "declined" in declined.text
    assert all_orders(dbsession) == []
    assert demo_shopper.cart() == {"TEE": 2}, "a declined card leaves the cart as it was"
    assert stock_of(dbsession, "TEE") == 10

    demo_shopper.pay()

    [order] = all_orders(dbsession)
    assert order.status == m.PAID and order.amount_captured == 4800 + 990
    [paid] = order.payments
    intents = {pi.id: pi.status for pi in demo_shop.localstripe.payment_intents()}
    held = [pi for pi, status in intents.items() if status in ("succeeded", "requires_capture")]
    assert held == [paid.reference], "only the good card's PaymentIntent holds or took money"
    assert intents[paid.reference] == "succeeded"
    declined_attempts = [p for p in payments(dbsession) if p.id != paid.id]
    assert [(p.status, p.order_id) for p in declined_attempts] == [(m.PAYMENT_FAILED, None)]
    assert demo_shopper.cart() == {}
    assert stock_of(dbsession, "TEE") == 8
    assert_emails(demo_shop.smtp, 1)


def test_3d_secure_success_pays_the_order_and_empties_the_customers_cart(
    demo_shopper, demo_shop, customer_user, dbsession
):
    demo_shopper.log_in(customer_user.email)
    challenge = demo_shopper.buy({"MUG": 1}, number=CARD_3DS, status=200)
    [order] = all_orders(dbsession)
    assert order.status == m.AWAITING_PAYMENT
    assert demo_shopper.cart() == {"MUG": 1}, "kept until the payment is authenticated"

    demo_shopper.authenticate(challenge.text, success=True).follow()

    [order] = all_orders(dbsession)
    assert order.status == m.PAID and order.amount_captured == 1250 + 990
    [pi] = demo_shop.localstripe.payment_intents()
    assert pi.status == "succeeded"
    assert demo_shopper.cart() == {}
    assert cart_page_is_empty(demo_shopper)
    assert stock_of(dbsession, "MUG") == 9
    assert_emails(demo_shop.smtp, 1)


def test_3d_secure_failure_cancels_the_order_and_keeps_the_cart(demo_shopper, demo_shop, dbsession):
    challenge = demo_shopper.buy({"MUG": 1}, number=CARD_3DS, status=200)

    page = demo_shopper.authenticate(challenge.text, success=False).follow()

    [order] = all_orders(dbsession)
    assert order.status == m.CANCELLED and order.amount_captured == 0
    [pi] = demo_shop.localstripe.payment_intents()
    assert pi.status == "canceled"
    assert demo_shopper.cart() == {"MUG": 1}
    assert stock_of(dbsession, "MUG") == 10, "the cancelled order's stock is back"
    assert "please try again" in page.text
    assert_emails(demo_shop.smtp, 0)

    demo_shopper.pay()

    cancelled, paid = all_orders(dbsession)
    assert (cancelled.status, paid.status) == (m.CANCELLED, m.PAID)
    assert demo_shopper.cart() == {}
    assert_emails(demo_shop.smtp, 1)


# The table a statement reads or writes first: "SELECT outbox_deliveries".
TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)")


@contextmanager
def statements_of(shop):
    """The SQL statements the shop's app sends while the block runs."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    engine = shop.app.registry.db_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_placing_an_order_writes_its_history_without_reading_it(demo_shopper, demo_shop, dbsession):
    """Each status change adds its row; none reads the order's history first (a query
    per change in every checkout, before the capture and after it)."""
    demo_shopper.add("TEE")
    demo_shopper.address()
    card = demo_shopper.card()

    with statements_of(demo_shop) as seen:
        demo_shopper.pay(payment_method=card)

    [order] = all_orders(dbsession)
    assert [(c.old_status, c.new_status) for c in order.history] == [
        (None, m.AWAITING_PAYMENT),
        (m.AWAITING_PAYMENT, m.AUTHORIZED),
        (m.AUTHORIZED, m.PAID),
    ]
    history_reads = [s for s in seen if s.startswith("SELECT") and "FROM order_status_changes" in s]
    assert history_reads == []
    assert sum(s.startswith("INSERT INTO order_status_changes") for s in seen) == 3


def test_the_confirmation_email_costs_one_transaction_per_plugin_after_the_commit(
    demo_shopper, demo_shop, dbsession
):
    """The order's message is fanned out to the notify plugins in the order's own
    transaction; after the commit each plugin's delivery is one locked read (the
    message with it) and one update, and nothing looks for more."""
    demo_shopper.add("TEE")
    demo_shopper.address()
    card = demo_shopper.card()
    plugins = notify_plugins(demo_shop.app.registry)
    assert len(plugins) >= 2  # the demo's notifications and webhooks

    with statements_of(demo_shop) as seen:
        demo_shopper.pay(payment_method=card)
    [email] = assert_emails(demo_shop.smtp, 1)

    [order] = all_orders(dbsession)
    assert order.number in email.get_body(("plain",)).get_content()
    outbox = [f"{s.split()[0]} {TABLE.search(s).group(1)}" for s in seen if "outbox_" in s]
    assert outbox == [
        "INSERT outbox_messages",
        "INSERT outbox_deliveries",
        *["SELECT outbox_deliveries", "UPDATE outbox_deliveries"] * len(plugins),
    ]
    sent = dbsession.execute(text("SELECT plugin, status FROM outbox_deliveries")).all()
    assert sorted(sent) == sorted((plugin, "sent") for plugin in plugins)


def test_the_confirmation_reads_no_shipments_or_returns_until_the_order_ships(
    demo_shopper, demo_shop, demo_staff, dbsession
):
    """An order just paid cannot have shipped, nor been returned: its confirmation page
    asks the fulfilment and returns plugins' tables nothing and shows neither section.
    Once staff ship it, the same page (the customer's secret link) shows both."""
    confirmation = demo_shopper.buy({"TEE": 1})

    with statements_of(demo_shop) as seen:
        page = demo_shopper.app.get(confirmation.location)

    assert "Thank you for your order" in page.text
    assert not [s for s in seen if "fulfilment_shipments" in s or "return_requests" in s]
    assert not page.html.select("section.shipments") and not page.html.select("#returns")

    [order] = all_orders(dbsession)
    ship(demo_staff, order, carrier="dhl", tracking_number="00340434")
    page = demo_shopper.app.get(confirmation.location)

    [section] = page.html.select("section.shipments")
    assert "00340434" in section.text
    assert "Returns" in page.html.select_one("#returns").text
