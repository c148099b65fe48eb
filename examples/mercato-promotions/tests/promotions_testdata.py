"""Discount codes for the tests, written straight to the database the app reads."""

from decimal import Decimal

from mercato_promotions.models import FIXED, PERCENT, DiscountCode
from sqlalchemy import select

PLUGINS = ["promotions_standin_shop.shop", "promotions"]


def add_code(dbsession, code: str, *, percent=None, amount=None, **fields) -> DiscountCode:
    """Commit a code: ``percent=10`` or ``amount=500`` (minor units), plus any column."""
    promo = DiscountCode(
        code=code,
        kind=PERCENT if percent is not None else FIXED,
        percent=Decimal(percent) if percent is not None else None,
        amount=amount,
        currency=fields.pop("currency", "EUR"),
        **fields,
    )
    dbsession.add(promo)
    dbsession.commit()
    return promo


def times_used(dbsession, code: str) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(DiscountCode.times_used).where(DiscountCode.code == code))
