"""The orders the orders page's filters find, as CSV files for the books: one row per
order (``order_rows``), or one per line of them (``line_rows``: what sold).

Newest first; times in the admin's time zone (``mercato.admin.timezone``), amounts in
the currency's major units with a decimal point ("12.50", "-3.00"), whatever the
shop's locale, so that a spreadsheet sums them. ``tax_added`` is the tax on top of the
prices (in ``total``), ``tax_included`` the tax the prices hold (per order: its tax by
rate is on its page). A line's ``shipped``, ``cancelled`` and ``refunded`` are units.
Streamed as the catalog's export is: the query runs after the request's transaction,
on a connection of its own in one REPEATABLE READ snapshot, a batch of orders at a
time, so a year of orders never sits in memory and an order refunded during the
download is not half old, half new.

A cell a customer typed that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``.
"""

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.orm import Session, selectinload

from mercato import Order, minor_digits

COLUMNS = (
    "number", "placed_at", "status", "email", "customer_id", "name", "country",
    "currency", "subtotal", "adjustments", "shipping", "tax_added", "tax_included",
    "total", "captured", "refunded", "payment_method", "shipping_method", "vat_number",
)  # fmt: skip
LINE_COLUMNS = (
    "number", "placed_at", "status", "currency", "sku", "name", "quantity", "unit_price",
    "total", "shipped", "cancelled", "refunded",
)  # fmt: skip
BATCH = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text(value: str | None) -> str:
    value = value or ""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _amounts(currency: str):
    digits = minor_digits(currency)
    return lambda minor: str(Decimal(minor).scaleb(-digits))


def _placed_at(order: Order, tz: ZoneInfo) -> str:
    return order.created_at.astimezone(tz).isoformat(timespec="seconds")


def order_rows(order: Order, tz: ZoneInfo) -> list[list]:
    amount = _amounts(order.currency)
    address = order.shipping_address or {}
    taxes = order.tax_lines or []
    return [
        [
            order.number,
            _placed_at(order, tz),
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
    ]


def line_rows(order: Order, tz: ZoneInfo) -> list[list]:
    amount = _amounts(order.currency)
    placed_at = _placed_at(order, tz)
    return [
        [order.number, placed_at, order.status, order.currency, text(line.sku),
         text(line.name), line.quantity, amount(line.unit_price_amount),
         amount(line.total_amount), line.quantity_shipped, line.quantity_cancelled,
         line.quantity_refunded]
        for line in order.lines
    ]  # fmt: skip


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data


def export_chunks(engine, query: Select, tz: ZoneInfo, lines: bool = False) -> Iterator[bytes]:
    """The file (of the orders' lines with ``lines``), a batch of orders at a time.
    Nothing runs (not even the connection) until the server starts sending, after the
    request's transaction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(LINE_COLUMNS if lines else COLUMNS)
    rows_of = line_rows if lines else order_rows
    if lines:
        query = query.options(selectinload(Order.lines))
    yield _take(buffer)
    with engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with Session(bind=connection) as session:
            found = session.scalars(query.execution_options(yield_per=BATCH))
            for orders in found.partitions():
                writer.writerows(row for order in orders for row in rows_of(order, tz))
                yield _take(buffer)
