"""Finding, pricing, applying and redeeming discount codes.

A code is only *applied* to a shopper's session; it is *redeemed* (counted against its
usage limit) when an order is placed, in the checkout's own transaction.
"""

import re
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update

from mercato import CartProblem, Money, rate_limit_check, rate_limit_hit

from .models import PERCENT, DiscountCode

NAME = "promotions"
SESSION_KEY = "promotions.code"
CODE_PATTERN = re.compile(r"^[A-Z0-9_-]{3,32}$")
RATE_LIMIT = "promotions.code"
DEFAULT_RATE_LIMIT = "20/hour"


class CodeRefused(Exception):
    """A shopper's code cannot be applied; the message says why, in plain words."""


class CodeUsedUp(CartProblem):
    """Raised at order placement: the checkout's transaction aborts, the authorization is
    voided, and the shopper sees the message on the payment step (409)."""


def normalise(text: str) -> str:
    return (text or "").strip().upper()


def find(dbsession, code: str) -> DiscountCode | None:
    return dbsession.scalar(select(DiscountCode).where(DiscountCode.code == normalise(code)))


def unusable_reason(promo: DiscountCode | None, now: datetime | None = None) -> str | None:
    """Why ``promo`` cannot be used right now (a phrase after the code), or ``None``."""
    now = now or datetime.now(UTC)
    if promo is None or not promo.active:
        return "is not a valid discount code"
    if promo.starts_at is not None and promo.starts_at > now:
        return "is not valid yet"
    if promo.expires_at is not None and promo.expires_at <= now:
        return "has expired"
    if promo.used_up:
        return "has been fully used"
    return None


def discount(promo: DiscountCode, lines, currency: str) -> Money | None:
    """The discount ``promo`` gives on ``lines`` (positive), or ``None`` when it gives none.

    Applies to the goods only, never to shipping or tax lines other plugins add, and
    never exceeds them.
    """
    if promo.currency != currency or not lines:
        return None
    goods = sum((line.total for line in lines), Money.zero(currency))
    if goods < promo.minimum or not goods:
        return None
    off = goods.percent(promo.percent) if promo.kind == PERCENT else promo.fixed_amount
    off = min(off, goods)
    return off if off else None


def apply(request, typed: str) -> DiscountCode:
    """Check ``typed`` and remember it in the shopper's session; raise ``CodeRefused``.

    Codes are secrets worth guessing, so wrong ones are rate limited per client address
    (``mercato.ratelimit.promotions.code``, 20 an hour by default): over the limit, even
    a right code gets the kernel's 429 page until the window has passed.
    """
    rate_limit_check(request, RATE_LIMIT, default=DEFAULT_RATE_LIMIT)
    code = normalise(typed)
    well_formed = CODE_PATTERN.match(code)
    promo = find(request.dbsession, code) if well_formed else None
    reason = unusable_reason(promo)
    if reason:
        rate_limit_hit(request, RATE_LIMIT, default=DEFAULT_RATE_LIMIT)
        raise CodeRefused(f"{code} {reason}." if well_formed else "That is not a valid code.")
    request.session[SESSION_KEY] = promo.code
    return promo


def redeem(dbsession, code: str) -> None:
    """Count one use of ``code`` in the caller's transaction, or raise ``CodeUsedUp``.

    One guarded UPDATE: PostgreSQL locks the row, and a concurrent checkout waiting on
    that lock re-checks the WHERE clause once the first commits — so the last use is
    granted exactly once. The lock lives until the checkout commits: milliseconds.
    """
    now = func.now()
    result = dbsession.execute(
        update(DiscountCode)
        .where(
            DiscountCode.code == code,
            DiscountCode.active,
            or_(DiscountCode.max_uses.is_(None), DiscountCode.times_used < DiscountCode.max_uses),
            or_(DiscountCode.starts_at.is_(None), DiscountCode.starts_at <= now),
            or_(DiscountCode.expires_at.is_(None), DiscountCode.expires_at > now),
        )
        .values(times_used=DiscountCode.times_used + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise CodeUsedUp(
            f"The discount code {code} can no longer be used (it has just run out or "
            "expired). Remove it from your cart to check out at the full price."
        )
