"""Staff download the orders the orders page finds as a CSV file for the books, in the
shop as ``mercato demo`` composes it: every page of them, amounts a spreadsheet sums,
what a customer typed never run as a formula, and the download in the audit log."""

import csv
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from mercato_admin.models import AuditEntry

from .conftest import all_orders


def download(staff, query: str = "", status: int = 200, what: str = "orders"):
    """The orders page with ``query``, then its download link of ``what`` (``orders``,
    ``lines``), as a browser follows it."""
    page = staff.app.get(f"/admin/orders{query}")
    file = {"orders": "/admin/orders.csv", "lines": "/admin/order-lines.csv"}[what]
    link = page.html.find("a", href=lambda href: href and href.startswith(file))
    assert link is not None, f"the orders page offers no download of {what}"
    return staff.app.get(link["href"], status=status)


def rows_of(response, name: str = "orders") -> list[dict]:
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{name}-')
    return list(csv.DictReader(io.StringIO(response.text)))


def exports(dbsession) -> list[str]:
    dbsession.expire_all()
    entries = select(AuditEntry).where(AuditEntry.action == "orders.export")
    return [entry.summary for entry in dbsession.scalars(entries.order_by(AuditEntry.id))]


def test_staff_download_every_order_with_amounts_a_spreadsheet_sums(
    demo_shop, demo_staff, dbsession
):
    demo_shop.browser().buy({"TEE": 2}, email="ada@example.com")
    demo_shop.browser().buy(
        {"MUG": 1},
        email="eve@example.com",
        name='=HYPERLINK("https://evil.example","Click")',
        country="DE",
        postal_code="10117",
        city="Berlin",
    )
    first, second = all_orders(dbsession)
    tz = ZoneInfo(demo_shop.app.registry.settings["mercato.admin"]["timezone"])

    rows = rows_of(download(demo_staff))

    assert [row["number"] for row in rows] == [second.number, first.number]  # newest first
    eve, ada = rows
    assert eve["name"] == '\'=HYPERLINK("https://evil.example","Click")'
    assert (eve["email"], eve["country"], ada["country"]) == ("eve@example.com", "DE", "FR")
    for row, order in ((ada, first), (eve, second)):
        assert row["status"] == order.status == "paid"
        assert row["currency"] == "EUR"
        assert row["placed_at"] == order.created_at.astimezone(tz).isoformat(timespec="seconds")
        assert Decimal(row["total"]) * 100 == order.total_amount
        assert Decimal(row["captured"]) == Decimal(row["total"])
        assert row["refunded"] == "0.00"
        assert Decimal(row["subtotal"]) + Decimal(row["adjustments"]) + Decimal(
            row["shipping"]
        ) + Decimal(row["tax_added"]) == Decimal(row["total"])
        assert Decimal(row["tax_included"]) > 0  # the demo's prices hold the VAT
        assert (row["payment_method"], row["shipping_method"]) == (
            "stripe_card",
            order.shipping_method,
        )
    assert ada["subtotal"] == "48.00"  # two tees at 24.00
    assert exports(dbsession) == ["Exported 2 orders"]


def test_the_download_keeps_the_pages_filters_and_a_bad_filter_downloads_nothing(
    demo_shop, demo_staff, dbsession
):
    demo_shop.browser().buy({"TEE": 1}, email="ada@example.com")
    demo_shop.browser().buy({"MUG": 1}, email="eve@example.com")

    rows = rows_of(download(demo_staff, "?q=eve%40example.com&status=paid"))
    assert [row["email"] for row in rows] == ["eve@example.com"]
    assert exports(dbsession) == ["Exported 1 order (q=eve@example.com, status=paid)"]

    refused = demo_staff.app.get(
        "/admin/orders.csv?date_from=2026-12-05&date_to=2026-12-01", status=400
    )
    assert refused.content_type == "text/html"
    assert "The end date is before the start date." in refused.text
    assert exports(dbsession) == ["Exported 1 order (q=eve@example.com, status=paid)"]


def test_staff_may_download_and_customers_may_not(demo_shop, dbsession, staff_user, customer_user):
    demo_shop.browser().buy({"TEE": 1}, email=customer_user.email)

    guest = demo_shop.browser()
    assert guest.app.get("/admin/orders.csv", status=(302, 303, 403)).content_type != "text/csv"
    customer = demo_shop.browser()
    customer.log_in(customer_user.email, customer_user.password)
    assert customer.app.get("/admin/orders.csv", status=403).content_type != "text/csv"
    assert exports(dbsession) == []

    staff = demo_shop.browser()
    staff.log_in(staff_user.email, staff_user.password)
    assert [row["email"] for row in rows_of(download(staff))] == [customer_user.email]


def test_staff_download_the_lines_of_the_orders_found(demo_shop, demo_staff, dbsession):
    demo_shop.browser().buy({"TEE": 2, "MUG": 1}, email="ada@example.com")
    demo_shop.browser().buy({"MUG": 3}, email="eve@example.com")
    first, second = all_orders(dbsession)

    lines = rows_of(download(demo_staff, what="lines"), "order-lines")

    assert [(r["number"], r["sku"], r["quantity"], r["unit_price"], r["total"]) for r in lines] == [
        (second.number, "MUG", "3", "12.50", "37.50"),
        (first.number, "TEE", "2", "24.00", "48.00"),
        (first.number, "MUG", "1", "12.50", "12.50"),
    ]
    assert {(r["status"], r["shipped"], r["cancelled"], r["refunded"]) for r in lines} == {
        ("paid", "0", "0", "0")
    }
    only_eve = rows_of(download(demo_staff, "?q=eve%40example.com", what="lines"), "order-lines")
    assert [r["number"] for r in only_eve] == [second.number]
    assert exports(dbsession) == [
        "Exported the lines of 2 orders",
        "Exported the lines of 1 order (q=eve@example.com)",
    ]
