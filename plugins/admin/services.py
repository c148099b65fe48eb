"""What the admin does, apart from the web: the audit log, the dashboard's figures,
the order actions staff take, listings with filters, and staff accounts.

Order actions call the kernel's (``mercato.capture_order`` …, which check the order's
state, talk to the payment plugin and record who did it in the order's history), then
write the audit entry in the same transaction.
"""

import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.numbers import format_currency
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from mercato import (
    AUTHORIZED,
    FULFILLED,
    PAID,
    PARTIALLY_FULFILLED,
    PARTIALLY_REFUNDED,
    REFUNDED,
    EmailTaken,
    Money,
    Order,
    OrderChange,
    Refund,
    User,
    actor_of,
    cancel_order,
    cancel_order_lines,
    capture_order,
    change_order_lines,
    create_user,
    enqueue,
    erase_user,
    fulfil_order,
    has_route,
    make_reset_token,
    minor_digits,
    public_route_url,
    refund_order,
    retry_safe_key,
    set_role,
)

from .models import AuditEntry

PAGE_SIZE = 25
CHART_DAYS = 30
# A staff invitation's link is a password-reset token that lives longer than the
# hour a forgotten password gets: people do not always read their email that day.
INVITE_TTL = 72 * 3600
# The invitation's link: the accounts plugin's reset page. A shop without it
# (``no:accounts``) signs its staff in another way and cannot invite.
INVITE_ROUTE = "password_reset"
NO_INVITATIONS = (
    "Invitations need the account pages (switched off in this shop): nobody could choose "
    "a password from the link. Give the person an account the way your shop signs staff in."
)
# Orders that count as sales: the money is held or taken (refunds are subtracted).
SALE_STATUSES = (AUTHORIZED, PAID, PARTIALLY_FULFILLED, FULFILLED, PARTIALLY_REFUNDED, REFUNDED)
STAFF_PATHS = ("/admin/", "/api/staff/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
AUDITED = "_mercato_admin_audited"


class AdminError(Exception):
    """An action the admin refuses; the message says why, in plain words."""


def timezone_of(request) -> ZoneInfo:
    """``mercato.admin.timezone``: where the dashboard's days begin."""
    return ZoneInfo(request.registry.settings["mercato.admin"]["timezone"])


def locale_of(request) -> str:
    return request.registry.settings["mercato.locale"]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass
class Page:
    items: list
    page: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


def count_of(dbsession: Session, query: Select) -> int:
    return dbsession.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def paginate(dbsession: Session, query: Select, page: int, *, scalars: bool = True) -> Page:
    total = count_of(dbsession, query)
    rows = dbsession.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    return Page(list(rows.scalars() if scalars else rows.all()), page, total)


# ---------------------------------------------------------------------------
# Audit log
# ---------------------------------------------------------------------------


def audit(
    request,
    action: str,
    *,
    object_type: str = "",
    object_id: str = "",
    summary: str = "",
    details: dict | None = None,
) -> AuditEntry:
    """Record that the request's user did ``action`` to an object, in the request's
    transaction: if the action is rolled back, so is its entry."""
    user = request.user
    entry = AuditEntry(
        actor_id=user.id,
        actor_email=user.email,
        actor_role=user.role,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:200],
        summary=summary,
        details=details or {},
        client_addr=(request.remote_addr or "")[:64] or None,
    )
    request.dbsession.add(entry)
    # Flushed now: the request may have no other write that would join the session.
    request.dbsession.flush()
    setattr(request, AUDITED, True)
    return entry


def changed_nothing(request) -> None:
    """This POST changed nothing (the refund form's "Calculate"): no audit entry."""
    setattr(request, AUDITED, True)


def audit_tween_factory(handler, registry):
    """Every successful change a staff member makes under ``/admin/`` or
    ``/api/staff/`` is logged, including plugins' pages the admin knows nothing about;
    views that log a richer entry themselves (``audit``) are not logged twice."""

    def audit_tween(request):
        response = handler(request)
        if (
            request.method not in SAFE_METHODS
            and response.status_int < 400
            and request.path_info.startswith(STAFF_PATHS)
            and not getattr(request, AUDITED, False)
        ):
            user = request.user
            if user is not None and user.is_staff:
                route = request.matched_route
                matchdict = request.matchdict or {}
                audit(
                    request,
                    route.name if route is not None else "request",
                    object_id=", ".join(f"{k}={v}" for k, v in sorted(matchdict.items())),
                    summary=f"{request.method} {request.path_info}",
                )
        return response

    return audit_tween


def find_audit(dbsession: Session, filters: dict) -> Page:
    query = select(AuditEntry)
    if filters["q"]:
        like = _like(filters["q"])
        query = query.where(
            or_(
                AuditEntry.actor_email.ilike(like),
                AuditEntry.action.ilike(like),
                AuditEntry.object_id.ilike(like),
                AuditEntry.summary.ilike(like),
            )
        )
    if filters["object_type"]:
        query = query.where(AuditEntry.object_type == filters["object_type"])
    if filters["object_id"]:
        query = query.where(AuditEntry.object_id == filters["object_id"])
    query = query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    return paginate(dbsession, query, filters["page"])


def audit_of(dbsession: Session, object_type: str, object_id: str) -> list[AuditEntry]:
    return dbsession.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
        .order_by(AuditEntry.created_at, AuditEntry.id)
    ).all()


# ---------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


@dataclass
class Sales:
    orders: int
    revenue: list[Money]  # one per currency sold in, the shop's first


def sales(dbsession: Session, start: datetime, end: datetime, currency: str) -> Sales:
    """Orders placed from ``start`` to ``end`` whose money is held or taken, and their
    value net of refunds."""
    rows = dbsession.execute(
        select(
            Order.currency,
            func.count(),
            func.coalesce(func.sum(Order.total_amount - Order.amount_refunded), 0),
        )
        .where(
            Order.created_at >= start,
            Order.created_at < end,
            Order.status.in_(SALE_STATUSES),
        )
        .group_by(Order.currency)
    ).all()
    by_currency = {code: (count, int(amount)) for code, count, amount in rows}
    by_currency.setdefault(currency, (0, 0))
    ordered = sorted(by_currency, key=lambda code: (code != currency, code))
    return Sales(
        orders=sum(count for count, _ in by_currency.values()),
        revenue=[Money(by_currency[code][1], code) for code in ordered],
    )


def daily_revenue(
    dbsession: Session, tz: ZoneInfo, currency: str, today: date, days: int = CHART_DAYS
) -> list[tuple[date, int, int]]:
    """``(day, orders, revenue in minor units)`` for each of the last ``days`` days."""
    first = today - timedelta(days=days - 1)
    local_day = func.date(func.timezone(tz.key, Order.created_at))
    rows = dbsession.execute(
        select(
            local_day,
            func.count(),
            func.coalesce(func.sum(Order.total_amount - Order.amount_refunded), 0),
        )
        .where(
            Order.created_at >= local_midnight(first, tz),
            Order.created_at < local_midnight(today + timedelta(days=1), tz),
            Order.status.in_(SALE_STATUSES),
            Order.currency == currency,
        )
        .group_by(local_day)
    ).all()
    found = {day: (count, int(amount)) for day, count, amount in rows}
    return [
        (day, *found.get(day, (0, 0))) for day in (first + timedelta(days=n) for n in range(days))
    ]


def _nice_ceiling(value: int) -> int:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ) at least ``value``:
    the chart's top line, so its half-way line reads as a round amount too."""
    magnitude = 10 ** max(0, math.floor(math.log10(value)))
    for factor in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if factor * magnitude >= value:
            return math.ceil(factor * magnitude)
    return 10 * magnitude


@dataclass
class Chart:
    """An SVG bar chart's geometry, drawn by ``admin/_chart.jinja2`` (no script)."""

    width: int
    height: int
    left: int  # where the plot begins (after the amounts) and ends
    right: int
    baseline: float
    bars: list[dict]
    gridlines: list[dict]
    total: str


def revenue_chart(points: list[tuple[date, int, int]], currency: str, locale: str) -> Chart:
    width, height, left, right, top, bottom = 640, 220, 64, 24, 12, 28
    plot_width, plot_height = width - left - right, height - top - bottom
    unit = 10 ** minor_digits(currency)
    ceiling = _nice_ceiling(max([unit] + [amount for _, _, amount in points]))

    def axis_money(amount: int) -> str:
        return format_currency(
            amount / unit, currency, format="¤#,##0", locale=locale, currency_digits=False
        )

    slot = plot_width / len(points)
    bars = []
    for index, (day, count, amount) in enumerate(points):
        bar_height = plot_height * amount / ceiling
        # A date every week, counted back from today so the last bar is labelled.
        label = f"{day:%d %b}" if (len(points) - 1 - index) % 7 == 0 else ""
        bars.append(
            {
                "x": round(left + index * slot + slot * 0.15, 1),
                "y": round(top + plot_height - bar_height, 1),
                "width": round(slot * 0.7, 1),
                "height": round(bar_height, 1),
                "label_x": round(left + index * slot + slot / 2, 1),
                "label": label,
                "title": f"{day:%a %d %b}: {Money(amount, currency).format(locale)}, "
                f"{count} order{'' if count == 1 else 's'}",
                "today": index == len(points) - 1,
                "day": day,
                "count": count,
                "amount": Money(amount, currency),
            }
        )
    gridlines = [
        {"y": round(top + plot_height * (1 - share), 1), "label": axis_money(ceiling * share)}
        for share in (0, 0.5, 1)
    ]
    total = Money(sum(amount for _, _, amount in points), currency).format(locale)
    return Chart(width, height, left, width - right, top + plot_height, bars, gridlines, total)


@dataclass
class Waiting:
    """Orders waiting for staff, and the listing that shows those to ship."""

    to_ship: int
    to_capture: int | None  # None when capture happens on shipping
    ship_status: str


def orders_waiting(dbsession: Session, capture_when: str) -> Waiting:
    """Orders to ship and (when the shop captures at checkout, so an authorization
    left over needs a person) to capture."""
    counts = dict(
        dbsession.execute(
            select(Order.status, func.count())
            .where(Order.status.in_((AUTHORIZED, PAID)))
            .group_by(Order.status)
        ).all()
    )
    paid, authorized = counts.get(PAID, 0), counts.get(AUTHORIZED, 0)
    if capture_when == "fulfilment":
        # Shipping takes the money: an authorized order is simply one to ship.
        return Waiting(paid + authorized, None, AUTHORIZED)
    return Waiting(paid, authorized, PAID)


# ---------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------


def find_orders(dbsession: Session, filters: dict, tz: ZoneInfo) -> Page:
    return paginate(dbsession, orders_matching(filters, tz), filters["page"])


def orders_matching(filters: dict, tz: ZoneInfo) -> Select:
    """The orders the orders page's filters find, newest first (the page, its export)."""
    query = select(Order)
    if filters["q"]:
        like = _like(filters["q"])
        query = query.where(or_(Order.number.ilike(like), Order.email.ilike(like)))
    if filters["status"]:
        query = query.where(Order.status == filters["status"])
    if filters["date_from"]:
        query = query.where(Order.created_at >= local_midnight(filters["date_from"], tz))
    if filters["date_to"]:
        end = local_midnight(filters["date_to"] + timedelta(days=1), tz)
        query = query.where(Order.created_at < end)
    if filters["customer"]:
        query = query.where(Order.customer_id == filters["customer"])
    return query.order_by(Order.created_at.desc(), Order.id.desc())


def refunds_of(dbsession: Session, order: Order) -> list[Refund]:
    return dbsession.scalars(
        select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)
    ).all()


def refundable(order: Order, refunds: Iterable[Refund]) -> Money:
    """What can still be refunded: captured, less refunds done or in flight."""
    taken = sum(r.amount for r in refunds if r.status in ("pending", "succeeded"))
    return order.money(max(0, order.amount_captured - taken))


ACTOR = re.compile(r"^(?:customer|staff|admin):(\d+)$")


def actor_labels(dbsession: Session, actors: Iterable[str]) -> dict[str, str]:
    """``{"staff:3": "Sam Staff (sam@example.com)"}`` for the order history's actors;
    others (``system``, ``guest``, a payment provider's webhook) read as they are."""
    actors = set(actors)
    ids = {int(match.group(1)) for a in actors if (match := ACTOR.match(a))}
    users = {}
    if ids:
        users = {u.id: u for u in dbsession.scalars(select(User).where(User.id.in_(ids)))}
    labels = {}
    for actor in actors:
        match = ACTOR.match(actor)
        user = users.get(int(match.group(1))) if match else None
        labels[actor] = f"{user.name or user.email} ({user.email})" if user else actor
    return labels


def capture(request, order: Order) -> None:
    capture_order(
        request.registry,
        request.dbsession,
        order,
        actor=actor_of(request),
        reason="captured by staff",
    )
    audit(
        request,
        "order.capture",
        object_type="order",
        object_id=order.number,
        summary=f"Captured {order.captured.format(locale_of(request))}",
        details={"amount": order.captured.to_json()},
    )


def cancel(request, order: Order, reason: str) -> None:
    cancel_order(
        request.registry,
        request.dbsession,
        order,
        actor=actor_of(request),
        reason=reason or "cancelled by staff",
    )
    audit(
        request,
        "order.cancel",
        object_type="order",
        object_id=order.number,
        summary="Cancelled: payment voided, items back in stock"
        + (f" ({reason})" if reason else ""),
        details={"reason": reason},
    )


def fulfil(request, order: Order, tracking_number: str, tracking_url: str) -> None:
    reason = f"shipped, tracking {tracking_number}" if tracking_number else "shipped"
    fulfil_order(
        request.registry,
        request.dbsession,
        order,
        actor=actor_of(request),
        reason=reason,
        tracking_number=tracking_number,
        tracking_url=tracking_url,
    )
    audit(
        request,
        "order.fulfil",
        object_type="order",
        object_id=order.number,
        summary="Marked shipped" + (f", tracking {tracking_number}" if tracking_number else ""),
        details={"tracking_number": tracking_number, "tracking_url": tracking_url},
    )


def _units_text(units: dict[str, int]) -> str:
    return ", ".join(f"{n} × {sku}" for sku, n in units.items())


def cancel_lines(
    request, order: Order, units: dict[str, int], reason: str, request_key: str | None
) -> Refund:
    """Cancel ``units`` (``{sku: units}``) not shipped yet: back in stock, and what the
    customer paid for them refunded (the kernel's ``cancel_order_lines``)."""
    shipping_kept = not order.shipping_refunded
    refund = cancel_order_lines(
        request.registry,
        request.dbsession,
        order,
        units,
        actor=actor_of(request),
        reason=reason or "cancelled by staff before shipping",
        request_key=retry_safe_key(request, request_key),
    )
    amount = order.money(refund.amount)
    audit(
        request,
        "order.cancel_lines",
        object_type="order",
        object_id=order.number,
        summary=f"Cancelled {_units_text(units)} before shipping, "
        f"refunded {amount.format(locale_of(request))}"
        + (" with the shipping" if shipping_kept and order.shipping_refunded else "")
        + (f" ({reason})" if reason else ""),
        details={
            "lines": units,
            "amount": amount.to_json(),
            "reason": reason,
            "refund_id": refund.id,
        },
    )
    return refund


def change_lines(
    request, order: Order, reason: str, request_key: str | None, **units
) -> OrderChange:
    """Take units off (``remove``) or add them (``add``), the kernel's
    ``change_order_lines``, audited with what it did to the amount owed."""
    change = change_order_lines(
        request,
        order,
        actor=actor_of(request),
        reason=reason,
        request_key=request_key,
        **units,
    )
    difference = order.money(change.amount)
    audit(
        request,
        f"order.{change.kind}",
        object_type="order",
        object_id=order.number,
        summary=f"{'Added' if units.get('add') else 'Took off'} {_units_text(change.lines)}, "
        f"{difference.format(locale_of(request))}" + (f" ({reason})" if reason else ""),
        details={"lines": change.lines, "difference": difference.to_json(), "reason": reason},
    )
    return change


def refund(
    request,
    order: Order,
    amount: Money,
    reason: str,
    restock: dict[str, int],
    parts,
    request_key: str | None = None,
):
    """Refund ``amount`` for ``parts`` (``mercato_admin.refunds.Parts``: the units and
    shipping named, if any) and put ``restock`` (``{sku: units}``) back in stock."""
    refund_order(
        request.registry,
        request.dbsession,
        order,
        amount,
        actor=actor_of(request),
        reason=reason,
        restock=restock,
        lines=parts.units,
        shipping=parts.shipping,
        request_key=retry_safe_key(request, request_key),
    )
    summary = f"Refunded {amount.format(locale_of(request))}"
    named = [_units_text(parts.units)] if parts.units else []
    named += ["the shipping"] if parts.shipping else []
    if named:
        summary += " for " + ", ".join(named)
    if restock:
        summary += ", back in stock: " + _units_text(restock)
    audit(
        request,
        "order.refund",
        object_type="order",
        object_id=order.number,
        summary=summary + (f" ({reason})" if reason else ""),
        details={
            "amount": amount.to_json(),
            "reason": reason,
            "restock": restock,
            "lines": parts.units,
            "shipping": parts.shipping,
        },
    )


# ---------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------


def find_customers(dbsession: Session, filters: dict, currency: str) -> Page:
    """Customers with their number of orders and what they spent (net of refunds)."""
    sold = and_(Order.status.in_(SALE_STATUSES), Order.currency == currency)
    spent = case((sold, Order.total_amount - Order.amount_refunded), else_=0)
    query = (
        select(User, func.count(Order.id), func.coalesce(func.sum(spent), 0))
        .outerjoin(Order, Order.customer_id == User.id)
        .where(User.role == "customer")
        .group_by(User.id)
    )
    if filters["q"]:
        like = _like(filters["q"])
        query = query.where(or_(User.email.ilike(like), User.name.ilike(like)))
    query = query.order_by(User.created_at.desc(), User.id.desc())
    page = paginate(dbsession, query, filters["page"], scalars=False)
    page.items = [(user, count, Money(int(spent), currency)) for user, count, spent in page.items]
    return page


def orders_of_customer(dbsession: Session, user: User) -> list[Order]:
    """Their orders, and the guest orders placed with their email before they had an
    account (or without logging in)."""
    return dbsession.scalars(
        select(Order)
        .where(
            or_(
                Order.customer_id == user.id,
                and_(Order.customer_id.is_(None), Order.email == user.email),
            )
        )
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(200)
    ).all()


# ---------------------------------------------------------------------------
# Staff accounts
# ---------------------------------------------------------------------------


def staff_members(dbsession: Session) -> list[User]:
    return dbsession.scalars(
        select(User).where(User.role.in_(("staff", "admin"))).order_by(User.role, User.email)
    ).all()


def can_invite(request) -> bool:
    return has_route(request, INVITE_ROUTE)


def invite(request, email: str, name: str, role: str) -> User:
    """Create a staff account and email its owner a link to choose a password.

    The account's first password is a random secret nobody knows (so its hash needs no
    particular cost: nobody can guess 32 random bytes); the link is a password-reset
    token of the accounts plugin's reset page, valid for ``INVITE_TTL`` and void as
    soon as it is used.
    """
    if not can_invite(request):
        raise AdminError(NO_INVITATIONS)
    try:
        user = create_user(
            request.dbsession, email, secrets.token_urlsafe(32), name=name, role=role
        )
    except EmailTaken as taken:
        raise AdminError(
            f"{taken} already has an account: change its role from the customer's page instead."
        ) from None
    token = make_reset_token(request.registry.settings["mercato.secret"], user, INVITE_TTL)
    enqueue(
        request.dbsession,
        "account.invited",
        {
            "email": user.email,
            "name": user.name,
            "role": role,
            "invited_by": request.user.name or request.user.email,
            "set_password_url": public_route_url(request, INVITE_ROUTE, token=token),
            "expires_in_hours": INVITE_TTL // 3600,
        },
    )
    audit(
        request,
        "staff.invite",
        object_type="user",
        object_id=user.email,
        summary=f"Invited {user.email} as {role}",
        details={"user_id": user.id, "role": role},
    )
    return user


def _not_yourself(request, user: User, what: str) -> None:
    # The only way to lock every admin out: the acting admin is active and holds the
    # role, so refusing changes to oneself keeps at least one admin.
    if user.id == request.user.id:
        raise AdminError(f"You cannot {what} your own account: ask another admin.")


def change_role(request, user: User, role: str) -> None:
    """Change ``user``'s role; their sessions end at their next request."""
    if role == user.role:
        return
    _not_yourself(request, user, "change the role of")
    old = user.role
    set_role(user, role)
    audit(
        request,
        "staff.role",
        object_type="user",
        object_id=user.email,
        summary=f"Role of {user.email}: {old} → {role}",
        details={"user_id": user.id, "from": old, "to": role},
    )


def erase_customer(request, user: User) -> int:
    """Erase a customer's account at their request (``mercato.erase_user``); returns how
    many orders are kept. The audit entry names the account by its id only."""
    if user.is_staff:
        raise AdminError(
            f"{user.email} is {user.role}: make the account a customer's first, then erase it."
        )
    kept = request.dbsession.scalar(
        select(func.count()).select_from(Order).where(Order.customer_id == user.id)
    )
    user_id = user.id
    erase_user(request, user)
    audit(
        request,
        "customer.erase",
        object_type="user",
        object_id=f"#{user_id}",
        summary=f"Erased customer #{user_id} at their request ({kept} order(s) kept)",
    )
    return kept


def set_active(request, user: User, active: bool) -> None:
    """Enable or disable ``user``; a disabled user is logged out at once."""
    if active == user.is_active:
        return
    _not_yourself(request, user, "disable" if not active else "enable")
    user.is_active = active
    audit(
        request,
        "staff.enable" if active else "staff.disable",
        object_type="user",
        object_id=user.email,
        summary=f"{'Enabled' if active else 'Disabled'} {user.email}",
        details={"user_id": user.id},
    )
