"""The dashboard's figures, the plugins page (secrets masked), the outbox page with its
retry, and the audit log of every staff action — the plugins' pages included."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from mercato import ConfigurationError, make_app
from mercato.orders import models as m
from mercato.outbox import DEAD, SENT, OutboxDelivery, OutboxMessage
from mercato.testing import base_settings, csrf_token, login
from mercato_payments_stripe.embedded import API_KEY, WEBHOOK_SECRET

from .conftest import add_order, audit_entries, form_token


def text_of(page, selector: str) -> str:
    return page.html.select_one(selector).get_text(" ", strip=True)


# ---------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------


def test_the_dashboard_counts_todays_and_this_months_sales(staff, db_engine):
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = today.replace(day=1)
    add_order(db_engine, "M-000001", total=2000, created_at=now)
    add_order(
        db_engine, "M-000002", status=m.PARTIALLY_REFUNDED, total=1000, refunded=500, created_at=now
    )
    add_order(db_engine, "M-000003", status=m.CANCELLED, total=9999, created_at=now)
    add_order(db_engine, "M-000004", status=m.AWAITING_PAYMENT, total=9999, created_at=now)
    add_order(db_engine, "M-000005", total=7000, created_at=month_start - timedelta(hours=1))
    earlier_this_month = today > month_start
    if earlier_this_month:
        add_order(db_engine, "M-000006", total=3000, created_at=month_start)

    page = staff.get("/admin")

    kpis = [k.get_text(" ", strip=True) for k in page.html.select(".kpi")]
    assert kpis[0] == "Today €25.00 2 orders", "paid and partly refunded, net of the refund"
    month = "€55.00 3 orders" if earlier_this_month else "€25.00 2 orders"
    assert kpis[1] == f"This month {month}"
    to_ship = 3 if earlier_this_month else 2
    assert kpis[2] == f"Waiting for you {to_ship} to ship 0 to capture"
    assert "times in UTC" in text_of(page, ".page-head")


def test_when_shipping_takes_the_money_authorized_orders_are_to_ship(
    make_shop, staff_user, db_engine
):
    shop = make_shop(**{"mercato.capture": "fulfilment"})
    login(shop, staff_user.email)
    add_order(db_engine, "M-000001", status=m.AUTHORIZED)
    add_order(db_engine, "M-000002", status=m.PAID)

    waiting = shop.get("/admin").html.select(".kpi")[2]

    assert waiting.get_text(" ", strip=True) == "Waiting for you 2 to ship paid when shipped"
    assert waiting.a["href"] == "/admin/orders?status=authorized"


def test_the_revenue_chart_has_a_bar_per_day_and_reads_as_a_table(staff, db_engine):
    now = datetime.now(UTC)
    add_order(db_engine, "M-000001", total=4000, created_at=now)
    add_order(db_engine, "M-000002", total=1000, created_at=now - timedelta(days=2))
    add_order(db_engine, "M-000003", total=1000, created_at=now - timedelta(days=40))

    page = staff.get("/admin")

    bars = page.html.select(".bar-chart rect.bar")
    assert len(bars) == 30
    assert "today" in bars[-1]["class"]
    assert bars[-1].title.text.endswith(": €40.00, 1 order")
    assert float(bars[-1]["height"]) > float(bars[-3]["height"]) > 0 == float(bars[-2]["height"])
    assert [t.text for t in page.html.select(".bar-chart text.axis")][:3] == ["€0", "€20", "€40"]
    assert "€50.00 in all" in text_of(page, "figcaption")
    rows = page.html.select(".chart-table tbody tr")
    assert rows[0].get_text(" ", strip=True).endswith("1 €40.00")


def test_the_dashboard_shows_pending_and_failed_emails(staff, db_engine):
    failing_delivery(db_engine)
    with Session(db_engine) as session, session.begin():
        session.add(OutboxMessage(event="order.placed", payload={"email": "b@example.com"}))

    page = staff.get("/admin")

    assert text_of(page, ".kpi-alert") == "Emails 1 pending 1 failed"
    assert "SMTPConnectError: no answer" in text_of(page, "#emails-title + ul")


def test_mercato_admin_widgets_catalog_panel_lists_low_stock(staff, products, db_engine):
    products("LAMP", stock=2, name="Desk lamp")
    products("TOWEL", stock=0, name="Tea towel")
    products("MUG", stock=50, name="Mug")

    page = staff.get("/admin")

    panel = page.html.find(id="catalog-low-stock").parent
    rows = [tr.get_text(" ", strip=True) for tr in panel.select("tbody tr")]
    assert rows == ["TOWEL Tea towel sold out", "LAMP Desk lamp 2"]
    assert panel.select_one("a")["href"] == "/admin/catalog/products/towel/edit"


def test_the_dashboards_days_are_in_the_configured_time_zone(make_shop, staff_user):
    shop = make_shop(**{"mercato.admin.timezone": "Europe/Paris"})
    login(shop, staff_user.email)
    assert "times in Europe/Paris" in shop.get("/admin").text


def test_an_unknown_time_zone_stops_the_app_with_one_clear_line(migrated_database, redis_url):
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.admin.timezone": "Mars/Olympus",
        }
    )
    with pytest.raises(ConfigurationError) as refused:
        make_app(settings, environ={})
    assert str(refused.value) == (
        "mercato: plugin 'admin' setting mercato.admin.timezone: 'Mars/Olympus' is not a "
        "time zone: use an IANA name such as Europe/Paris or UTC — set "
        "mercato.admin.timezone in the ini file or MERCATO_TIMEZONE"
    )


# ---------------------------------------------------------------------------
# Plugins page
# ---------------------------------------------------------------------------


def test_the_plugins_page_lists_plugins_hooks_and_masked_settings(make_shop, staff_user):
    shop = make_shop(**{"mercato.notifications.password": "hunter2-smtp"})
    login(shop, staff_user.email)

    page = shop.get("/admin/plugins")

    sections = {s.h2.contents[0].strip(): s for s in page.html.select("section.plugin")}
    assert {"catalog", "cart", "payments_stripe", "notifications", "promotions"} <= set(sections)
    assert "installed, not enabled" in sections["promotions"].h2.text
    catalog = sections["catalog"].get_text(" ", strip=True)
    assert "version 0.1.0" in catalog and "mercato_admin_widgets" in catalog
    stripe = sections["payments_stripe"].get_text(" ", strip=True)
    assert "mercato.payments_stripe.api_key ********" in stripe
    notifications = sections["notifications"].get_text(" ", strip=True)
    assert "mercato.notifications.password ********" in notifications
    assert "mercato.notifications.transport log" in notifications
    for secret in (API_KEY, WEBHOOK_SECRET, "hunter2-smtp"):
        assert secret not in page.text


# ---------------------------------------------------------------------------
# Outbox
# ---------------------------------------------------------------------------


def failing_delivery(db_engine) -> int:
    """A shipping email the notifications plugin gave up on."""
    now = datetime.now(UTC)
    with Session(db_engine) as session, session.begin():
        message = OutboxMessage(
            event="order.shipped",
            payload={"email": "ada@example.com", "number": "M-000042"},
            dispatched_at=now,
        )
        delivery = OutboxDelivery(
            message=message,
            plugin="notifications",
            status=DEAD,
            attempts=8,
            next_attempt_at=now,
            last_error="SMTPConnectError: no answer from smtp.example.com",
        )
        session.add(delivery)
        session.flush()
        return delivery.id


def delivery_status(db_engine, delivery_id: int) -> str:
    with Session(db_engine) as session:
        return session.get(OutboxDelivery, delivery_id).status


def test_staff_retry_a_failed_email_from_the_outbox_page(staff, staff_user, db_engine, dbsession):
    delivery_id = failing_delivery(db_engine)
    page = staff.get("/admin/outbox")
    failed = text_of(page, "#dead-title + div tbody tr")
    assert (
        "order.shipped" in failed and "ada@example.com" in failed and "SMTPConnectError" in failed
    )

    done = staff.post(
        f"/admin/outbox/{delivery_id}/retry", {"csrf_token": form_token(page)}, status=303
    ).follow()

    assert f"Delivery {delivery_id} was sent." in done.text
    assert delivery_status(db_engine, delivery_id) == SENT
    assert "Failed (0)" in done.text
    [entry] = audit_entries(dbsession)
    assert (entry.actor_email, entry.action, entry.object_id) == (
        staff_user.email,
        "outbox.retry",
        str(delivery_id),
    )


def test_a_sent_email_is_not_sent_twice(staff, db_engine, dbsession):
    delivery_id = failing_delivery(db_engine)
    token = csrf_token(staff)
    staff.post(f"/admin/outbox/{delivery_id}/retry", {"csrf_token": token}, status=303)

    again = staff.post(f"/admin/outbox/{delivery_id}/retry", {"csrf_token": token}, status=409)

    assert f"delivery {delivery_id} was already sent; retrying would repeat it" in again.text
    assert len(audit_entries(dbsession)) == 1


# ---------------------------------------------------------------------------
# Audit log
# ---------------------------------------------------------------------------


def test_plugin_staff_pages_are_audited_without_knowing_the_admin(staff, staff_user, dbsession):
    page = staff.get("/admin/catalog/categories")
    form = [f for f in page.forms.values() if "name" in f.fields][0]
    form["name"] = "Kitchen"
    form.submit(status=303)
    staff.get("/admin/catalog/categories")  # reading changes nothing: not logged

    [entry] = audit_entries(dbsession)
    assert (entry.actor_id, entry.actor_role, entry.action) == (
        staff_user.id,
        "staff",
        "catalog_admin_categories",
    )
    assert entry.summary == "POST /admin/catalog/categories"
    assert entry.client_addr == "127.0.0.1"

    log = staff.get("/admin/audit", {"q": "categories"})
    row = text_of(log, "main tbody tr")
    assert staff_user.email in row and "catalog_admin_categories" in row


def test_a_refused_plugin_form_is_not_audited(staff, dbsession):
    page = staff.get("/admin/catalog/categories")
    staff.post(
        "/admin/catalog/categories", {"csrf_token": form_token(page), "name": ""}, status=400
    )
    assert audit_entries(dbsession) == []


def test_the_audit_log_filters_by_object_and_pages(staff, staff_user, dbsession, db_engine):
    from mercato_admin.models import AuditEntry

    with Session(db_engine) as session, session.begin():
        for n in range(30):
            session.add(
                AuditEntry(
                    actor_id=staff_user.id,
                    actor_email=staff_user.email,
                    actor_role="staff",
                    action="order.refund",
                    object_type="order",
                    object_id=f"M-{n % 3:06d}",
                    summary=f"Refunded €{n}.00",
                )
            )

    first = staff.get("/admin/audit")
    assert len(first.html.select("main tbody tr")) == 25 and "Page 1 of 2" in first.text
    one = staff.get("/admin/audit", {"object_type": "order", "object_id": "M-000001"})
    assert len(one.html.select("main tbody tr")) == 10
    link = one.html.select_one("main tbody td:nth-of-type(4) a")
    assert link["href"] == "/admin/orders/M-000001"
    staff.get("/admin/audit", {"page": "x"}, status=400)
