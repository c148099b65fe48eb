"""Payloads and database checks shared by the outbox and notifications tests."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mercato.outbox import OutboxDelivery, OutboxMessage


def money(amount: int, currency: str = "EUR") -> dict:
    return {"amount": amount, "currency": currency}


def order_payload(number="M-1001", email="anna@example.com", **extra) -> dict:
    """An ``order.placed`` payload as checkout writes it."""
    payload = {
        "email": email,
        "number": number,
        "customer_name": "Anna Berg",
        "lines": [
            {
                "name": "Blue mug",
                "sku": "MUG-BLUE",
                "quantity": 2,
                "unit_price": money(1250),
                "total": money(2500),
            },
            {
                "name": "Tea towel",
                "sku": "TOWEL-1",
                "quantity": 1,
                "unit_price": money(899),
                "total": money(899),
            },
        ],
        "subtotal": money(3399),
        "adjustments": [{"label": "Shipping", "amount": money(495)}],
        "total": money(3894),
    }
    payload.update(extra)
    return payload


def deliveries(db_engine) -> list[OutboxDelivery]:
    with Session(db_engine, expire_on_commit=False) as session:
        return list(session.scalars(select(OutboxDelivery).order_by(OutboxDelivery.id)))


def message_count(db_engine) -> int:
    with Session(db_engine) as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))
