"""The orders the orders page's filters find, as a CSV file for the books.

One row per order, newest first; times in the admin's time zone
(``mercato.admin.timezone``), amounts in the currency's major units with a decimal
point ("12.50", "-3.00"), whatever the shop's locale, so that a spreadsheet sums them.
``tax_added`` is the tax on top of the prices (in ``total``), ``tax_included`` the tax
the prices hold. Streamed as the catalog's export is: the query runs after the
request's transaction, on a connection of its own in one REPEATABLE READ snapshot, a
batch of orders at a time, so a year of orders never sits in memory and an order
refunded during the download is not half old, half new.

A cell a customer typed that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``.
"""

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.orm import Session

from mercato import Order, minor_digits

COLUMNS = (
    "number", "placed_at", "status", "email", "customer_id", "name", "country",
    "currency", "subtotal", "adjustments", "shipping", "tax_added", "tax_included",
    "total", "captured", "refunded", "payment_method", "shipping_method", "vat_number",
)  # fmt: skip
BATCH = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text(value: str | None) -> str:
    value = value or ""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def order_row(order: Order, tz: ZoneInfo) -> list:
    digits = minor_digits(order.currency)

    def amount(minor: int) -> str:
        return str(Decimal(minor).scaleb(-digits))

    address = order.shipping_address or {}
    taxes = order.tax_lines or []
    return [
        order.number,
        order.created_at.astimezone(tz).isoformat(timespec="seconds"),
        order.status,
        text(order.email),
        order.customer_id or "",
        text(address.get("name")),
        address.get("country", ""),
        order.currency,
        amount(order.subtotal_amount),
        amount(sum(adj["amount"] for adj in order.adjustments or [])),
        amount(order.shipping_amount),
        amount(order.tax_amount),
        amount(sum(tax["amount"] for tax in taxes if tax["included"])),
        amount(order.total_amount),
        amount(order.amount_captured),
        amount(order.amount_refunded),
        order.payment_method,
        order.shipping_method or "",
        text(order.vat_number),
    ]


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data


def export_chunks(engine, query: Select, tz: ZoneInfo) -> Iterator[bytes]:
    """The file, a batch of orders at a time. Nothing runs (not even the connection)
    until the server starts sending, after the request's transaction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield _take(buffer)
    with engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with Session(bind=connection) as session:
            found = session.scalars(query.execution_options(yield_per=BATCH))
            for orders in found.partitions():
                writer.writerows(order_row(order, tz) for order in orders)
                yield _take(buffer)
