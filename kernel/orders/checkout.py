"""The checkout unit: one request, one transaction (DESIGN.md, "The checkout unit").

``place_order`` is DESIGN.md's numbered steps, one function each:

1. ``_priced_cart``: the cart (``mercato_cart_lines``) priced on the server, its stock
   checked without locking anything;
2. ``_authorize`` through ``mercato.payments`` (the kernel's payment record is committed
   on its own first, ``ledger``), then ``_hold_until_commit``: the authorization joins
   the transaction through ``PaymentDataManager`` — abort voids it, commit captures it;
3. ``_save_order``: the order and its lines, stock reserved (``mercato_reserve_stock``:
   row locks from here to the commit only), the payment linked to it;
4. the commit (pyramid_tm), then the capture (the data manager's ``tpc_finish``);
5. ``_placed``: the cart emptied and a new checkout begun, only once the commit happened;
6. ``_record_placed``: the confirmation email written to the outbox in the same
   transaction, sent after the commit;
7. a crash between steps is finished by ``mercato reconcile`` (``reconcile``);
8. 3-D Secure: the order waits in ``awaiting_payment`` until ``payment_updated``.

Nothing touches the shopper's cart before the commit, and the session only with what
a retry would compute again (the next purchase's checkout id): pyramid_retry may run the
whole request again, and a retry must find everything as it was.

A checkout id names one purchase. A repeated submit of it (a double click, a resubmit
after a crash) finds its order again; a submit with other payment details after it
became an order is the next purchase, even when the session was never moved on.
"""

import hashlib
import logging
import secrets
import sys
import threading
import time
from dataclasses import dataclass

import colander
import redis
from pyramid_retry import IRetryableError, is_last_attempt
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from .. import payments
from ..datamanagers.payment import PaymentDataManager
from ..exceptions import CartProblem, CheckoutError, OutOfStock
from ..money import Money
from ..outbox import enqueue
from ..payments import PaymentInfo, PaymentMethod, PaymentResult
from ..places import country_name
from ..pricing import (
    SHIPPING,
    Line,
    PricedLines,
    PricingContext,
    describe_skus,
    price_lines,
)
from . import ledger, services
from . import models as m
from .schemas import CheckoutAddressSchema
from .services import destination_of, order_page_url

log = logging.getLogger(__name__)

SESSION_KEY = "mercato.checkout"
# A submit holds its checkout's lock for LOCK_MS and renews it every LOCK_RENEW_S while
# it runs (CheckoutLock). A worker killed mid-checkout renews nothing, so a resubmit
# waits at most LOCK_MS to learn what happened; a live submit is never overtaken.
LOCK_MS = 5_000
LOCK_RENEW_S = 1.0
# Every call a submit makes has a timeout; one still running after this is stuck.
LOCK_MAX_S = 120


class PaymentDeclined(CheckoutError):
    status, outcome = 402, "declined"


class PaymentUnavailable(CheckoutError):
    status, outcome = 503, "unavailable"


class CheckoutBusy(CheckoutError):
    status, outcome = 409, "busy"


# ---------------------------------------------------------------------------
# The shopper's checkout (session) and what it would buy (cart, priced)
# ---------------------------------------------------------------------------


def checkout_state(request) -> dict:
    """The shopper's checkout in progress: its id, email and addresses.

    The id is made on the first visit and kept until an order is placed with it, so a
    retried or repeated submit finds the same order and the same payment.
    """
    state = request.session.get(SESSION_KEY)
    if not state or "id" not in state:
        state = {"id": secrets.token_hex(16)}
        request.session[SESSION_KEY] = state
    return state


def save_checkout_state(request, **changes) -> dict:
    state = {**checkout_state(request), **changes}
    request.session[SESSION_KEY] = state
    return state


def set_checkout_address(request, *, email, shipping, billing=None, vat_number="") -> dict:
    """Keep the shopper's email, addresses and (a business's) VAT number for the
    checkout, once valid (no ``billing``: the shipping address). Raises
    ``colander.Invalid`` naming each field. The totals follow the new destination."""
    valid = CheckoutAddressSchema().deserialize(
        {
            "email": email,
            "shipping": shipping,
            "billing": billing or colander.null,
            "vat_number": vat_number or colander.null,
        }
    )
    return save_checkout_state(
        request,
        email=valid["email"],
        shipping=valid["shipping"],
        billing=valid["billing"],
        vat_number=valid["vat_number"],
    )


def set_shipping_method(request, code) -> dict:
    """Keep the shopper's choice of shipping method, if the cart may go that way to
    their address. Raises ``CheckoutError`` otherwise."""
    review = review_cart(request)
    if not any(option.code == code for option in review.priced.shipping_options):
        raise CheckoutError(
            "Please choose one of the shipping methods offered.", field="shipping_method"
        )
    return save_checkout_state(request, shipping_method=code)


@dataclass
class Review:
    priced: PricedLines
    problems: list[str]

    @property
    def lines(self) -> list[Line]:
        return self.priced.lines

    @property
    def empty(self) -> bool:
        return not self.priced.lines and not self.problems


def review_cart(request) -> Review:
    """The cart priced on the server for the checkout's address and shipping method,
    and what would stop it from being bought."""
    state = checkout_state(request)
    lines = request.hooks.mercato_cart_lines(request=request) or []
    # The seller's display name, frozen into the order line at purchase.
    details = describe_skus(request, [line.sku for line in lines])
    lines = [
        Line(sku=line.sku, quantity=line.quantity, name=line.name)
        if line.sku not in details
        else Line(
            sku=line.sku,
            quantity=line.quantity,
            name=details[line.sku].name,
            tax_class=details[line.sku].tax_class,
            weight=details[line.sku].weight,
        )
        for line in lines
    ]
    context = PricingContext(
        currency=request.registry.settings["mercato.currency"],
        dbsession=request.dbsession,
        customer=request.user,
        request=request,
        destination=destination_of(state.get("shipping")),
        shipping_method=state.get("shipping_method"),
        vat_number=state.get("vat_number", ""),
    )
    priced = price_lines(request.hooks, lines, context)
    names = {line.sku: line.name or line.sku for line in lines}
    problems = [
        f"{names[sku]} can no longer be bought; please remove it from your cart."
        for sku in priced.unpriced
    ]
    if (
        priced.shipping_required
        and context.destination
        and priced.lines
        and not priced.shipping_options
    ):
        country = country_name(context.destination.country)
        problems.append(f"Sorry, we do not ship to {country} yet. Please choose another address.")
    for line in priced.lines:
        level = request.hooks.mercato_stock_level(dbsession=request.dbsession, sku=line.sku)
        if level is not None and level < line.quantity:
            problems.append(_stock_message(line.name or line.sku, line.quantity, level))
    return Review(priced, problems)


def _stock_message(name: str, requested: int, available: int) -> str:
    if available <= 0:
        return f"Sorry, {name} is sold out. Please remove it from your cart."
    return f"Sorry, only {available} of {name} left (you asked for {requested})."


def payment_methods(request) -> list[PaymentMethod]:
    found = []
    for contribution in request.hooks.mercato_payment_methods(request=request):
        found.extend(contribution or ())
    return found


# ---------------------------------------------------------------------------
# Placing the order
# ---------------------------------------------------------------------------


@dataclass
class Placed:
    """What ``place_order`` made. ``requires_action``: the shopper must complete the
    payment in the browser (its method's ``action_template``) before the order is paid;
    otherwise it is placed, and the cart is emptied once the request commits."""

    order: m.Order
    payment: m.Payment | None
    repeated: bool = False

    @property
    def requires_action(self) -> bool:
        return self.payment is not None and self.payment.status == m.PAYMENT_REQUIRES_ACTION


MAX_DETAILS, MAX_DETAIL_LENGTH = 20, 500


def place_order(request, method_code: str, details, expected_total=None) -> Placed:
    """Turn the shopper's cart into an order, paid as far as the method allows; the
    module's docstring says how, step by step.

    ``details`` (what the payment method's fields posted) and ``expected_total`` (the
    total the shopper was shown, minor units) come as the client sent them. When the
    cart's total has changed since (a price, a discount that ran out), nothing is
    charged and the shopper is asked to look again.

    Raises a ``CheckoutError`` whose message is for the shopper; the caller must let the
    transaction abort then (a 4xx response does, through ``tm.commit_veto``).
    """
    try:
        placed = _place_order(request, method_code, details, expected_total)
    except CheckoutError as exc:
        _attempted(
            request, exc.outcome, lambda: getattr(_offered(request, method_code), "provider", None)
        )
        raise
    if not placed.repeated:
        outcome = "requires_action" if placed.requires_action else "placed"
        provider = placed.payment.provider if placed.payment else None
        request.tm.get().addAfterCommitHook(
            lambda committed: committed and _attempted(request, outcome, lambda: provider)
        )
    return placed


def _attempted(request, outcome: str, provider) -> None:
    """Tell the plugins; ``provider()`` is asked here, where nothing it raises escapes."""
    try:
        request.hooks.mercato_checkout_attempted(
            request=request, outcome=outcome, provider=provider()
        )
    except Exception:  # counting never changes what the shopper is told
        log.exception("mercato_checkout_attempted failed")


def _place_order(request, method_code: str, details, expected_total) -> Placed:
    details, expected_total = _read_payment_input(details, expected_total)
    state = checkout_state(request)
    if not state.get("email") or not state.get("shipping"):
        raise CheckoutError("Please enter your email and address first.", field="email")
    state, repeated = _this_purchase(request, state, ledger.details_digest(method_code, details))
    if repeated is not None:
        return _placed(request, repeated, repeated.live_payment, repeated=True)
    method = _method(request, method_code)
    priced = _priced_cart(request, expected_total)  # 1.
    order = _new_order(request, state, priced, method)
    payment = _authorize(request, order, method, details)  # 2.
    hold_payment(request, payment, expected_amount=order.total_amount)
    _save_order(request, order, payment)  # 3.
    _record_placed(request, order, payment)  # 6.
    return _placed(request, order, payment)  # 4. and 5. follow the commit


def _offered(request, code: str) -> PaymentMethod | None:
    return next((method for method in payment_methods(request) if method.code == code), None)


def _method(request, code: str) -> PaymentMethod:
    if (method := _offered(request, code)) is None:
        raise CheckoutError("Please choose a way to pay.", field="method")
    return method


def _read_payment_input(details, expected_total) -> tuple[dict, int | None]:
    """What a client sent with its payment, or a 400 that says it could not be read."""
    unreadable = CheckoutError("The payment details could not be read.", field="details")
    if not isinstance(details, dict) or len(details) > MAX_DETAILS:
        raise unreadable
    for key, value in details.items():
        if not isinstance(key, str) or len(key) > 64:
            raise unreadable
        if not isinstance(value, str) or len(value) > MAX_DETAIL_LENGTH:
            raise unreadable
    if expected_total is None or expected_total == "":
        return details, None  # an older client: not checked
    if isinstance(expected_total, int) and not isinstance(expected_total, bool):
        return details, expected_total
    if isinstance(expected_total, str) and expected_total.isdigit() and len(expected_total) < 16:
        return details, int(expected_total)
    raise CheckoutError("The total sent with the payment could not be read.", field="total")


def _this_purchase(request, state: dict, digest: str) -> tuple[dict, m.Order | None]:
    """The checkout this submit places, and its order when the submit is a repeat.

    Otherwise the submit holds the checkout's lock from here to the end of the request.
    """
    existing = _order_of_checkout(request, state["id"])
    if existing is not None and _is_next_purchase(existing, digest):
        # The session still names a checkout that became an order: the step after its
        # commit that starts a new one did not happen (a crash, a failure). This submit,
        # paid with other details, is the next purchase, never a repeat of that order.
        # Derived, not random: a retried or repeated submit of it finds the same id.
        checkout_id = hashlib.sha256(f"{state['id']}:{digest}".encode()).hexdigest()[:32]
        state = save_checkout_state(request, id=checkout_id)
        existing = _order_of_checkout(request, checkout_id)
    if existing is None:
        lock_checkout(request, state["id"])
        existing = _order_of_checkout(request, state["id"])
    return state, existing


def _order_of_checkout(request, checkout_id: str) -> m.Order | None:
    return request.dbsession.scalars(
        select(m.Order).where(m.Order.checkout_id == checkout_id)
    ).first()


def _is_next_purchase(order: m.Order, digest: str) -> bool:
    """Whether a submit with payment details ``digest`` is a new purchase rather than a
    repeat of the one that placed ``order``. An order still waiting for the shopper
    (3-D Secure) stays their checkout's answer until it is paid or cancelled."""
    if order.status == m.AWAITING_PAYMENT:
        return False
    return all(payment.details_digest != digest for payment in order.payments)


def _priced_cart(request, expected_total: int | None) -> PricedLines:
    """Step 1: the cart, priced here, with a stock check that locks nothing."""
    review = review_cart(request)
    if review.empty:
        raise CartProblem("Your cart is empty.")
    if review.problems:
        raise CartProblem(" ".join(review.problems))
    priced = review.priced
    if priced.shipping_required and priced.shipping is None:
        raise CheckoutError("Please choose a shipping method.", field="shipping_method")
    if priced.total.amount <= 0:
        raise CartProblem("There is nothing to pay for in your cart.")
    if expected_total is not None and expected_total != priced.total.amount:
        locale = request.registry.settings["mercato.locale"]
        shown = Money(expected_total, priced.currency).format(locale)
        raise CartProblem(
            f"The total changed from {shown} to {priced.total.format(locale)} since you "
            "saw it. Please check your order, then pay again.",
            field="total",
        )
    return priced


def _new_order(request, state: dict, priced: PricedLines, method: PaymentMethod) -> m.Order:
    user = request.user
    prefix = request.registry.settings["mercato.order_number_prefix"]
    order = m.Order(
        number=services.next_number(request.dbsession, prefix),
        checkout_id=state["id"],
        access_token=secrets.token_urlsafe(32),
        customer_id=getattr(user, "id", None),
        email=state["email"],
        status=m.AWAITING_PAYMENT,
        currency=priced.currency,
        subtotal_amount=priced.subtotal.amount,
        total_amount=priced.total.amount,
        amount_captured=0,
        amount_refunded=0,
        adjustments=[
            {"label": a.label, "amount": a.amount.amount, "code": a.code, "source": a.source}
            for a in priced.adjustments
        ],
        shipping_address=state["shipping"],
        billing_address=state.get("billing") or state["shipping"],
        payment_method=method.code,
        vat_number=state.get("vat_number", ""),
        tax_amount=priced.added_tax().amount,
        tax_lines=[
            {
                "name": t.name,
                "rate": str(t.rate),
                "amount": t.amount.amount,
                "included": t.included,
                "target": t.target,
            }
            for t in priced.taxes
        ],
    )
    if priced.shipping is not None:
        order.shipping_method = priced.shipping.code
        order.shipping_name = priced.shipping.name
        order.shipping_amount = priced.shipping.price.amount
        order.shipping_tax_amount = priced.added_tax(SHIPPING).amount
    order.lines = [
        m.OrderLine(
            position=position,
            sku=line.sku,
            name=line.name or line.sku,
            quantity=line.quantity,
            unit_price_amount=line.unit_price.amount,
            total_amount=line.total.amount,
            tax_amount=priced.added_tax(line.sku).amount,
        )
        for position, line in enumerate(priced.lines, start=1)
    ]
    return order


def _authorize(request, order: m.Order, method: PaymentMethod, details: dict) -> m.Payment:
    """Step 2: authorize, before any row is locked; the payment's record is committed
    on its own before the provider is asked, and each answer as soon as it comes."""
    engine = request.registry.db_engine
    payment, stale = ledger.open_attempt(
        engine,
        checkout_id=order.checkout_id,
        provider=method.provider,
        method=method.code,
        amount=order.total,
        digest=ledger.details_digest(method.code, details),
    )
    for old in stale:
        void_now(request.registry, old)
    if payment.status in (m.PAYMENT_AUTHORIZED, m.PAYMENT_REQUIRES_ACTION) and payment.reference:
        # A retried request: the authorization of the first attempt is still good.
        return payment
    try:
        result = payments.authorize(request.registry, PaymentInfo.of(payment), order, details)
    except Exception as exc:
        ledger.record_error(engine, payment.id, f"authorize: {type(exc).__name__}: {exc}")
        raise
    if result is None:
        ledger.mark(engine, payment.id, m.PAYMENT_FAILED, f"no plugin authorizes {method.code}")
        raise CheckoutError("That way to pay is not available right now.", field="method")
    payment = ledger.record(engine, payment.id, result)
    if result.status == "failed":
        raise PaymentDeclined(
            result.message or "Your payment was declined. Please try another card."
        )
    if result.status == "unavailable":
        raise PaymentUnavailable(
            result.message
            or "We could not reach the payment service. Nothing was charged; please try again."
        )
    return payment


def authorize_payment(request, payable, method_code: str, details) -> m.Payment:
    """Authorize ``payable`` with the method ``method_code`` and what its fields posted
    (``details``, as the client sent them), as ``place_order`` does in its step 2: the
    payment's record is committed on its own first. ``payable`` is an order or what
    stands for one: its ``id``, ``number``, ``checkout_id``, ``email`` and ``total``
    (``mercato.pay_balance``'s balance). ``CheckoutError`` says why not, for the
    customer. The transaction keeps the payment once given to ``hold_payment``."""
    details, _ = _read_payment_input(details, None)
    return _authorize(request, payable, _method(request, method_code), details)


def hold_payment(request, payment: m.Payment, *, expected_amount: int, **options) -> None:
    """Step 2, continued: the authorization joins the request's transaction — voided if
    it aborts (unless pyramid_retry runs the request again: the retry finds it), and
    captured once PostgreSQL committed when ``capture`` (default: when the shop
    captures at checkout). The commit is vetoed unless it holds ``expected_amount``."""
    _hold_until_commit(
        request,
        payment,
        expected_amount=expected_amount,
        retry_follows=_retry_follows(request),
        **options,
    )


def _hold_until_commit(request, payment: m.Payment, **options) -> None:
    options.setdefault("capture", request.registry.settings["mercato.capture"] == "checkout")
    PaymentDataManager(
        registry=request.registry,
        ledger=OrderLedger(request.registry),
        payment=PaymentInfo.of(payment),
        **options,
    ).join(request.tm)


def _retry_follows(request):
    """Whether the transaction now aborting is about to be run again by pyramid_retry."""

    def check(txn) -> bool:
        if is_last_attempt(request):
            return False
        exc = getattr(request, "exception", None) or sys.exc_info()[1]
        if exc is None:
            return False
        return IRetryableError.providedBy(exc) or bool(txn.isRetryableError(exc))

    return check


def _save_order(request, order: m.Order, payment: m.Payment) -> None:
    """Step 3: the order, its stock and its payment, in the authorization's transaction.
    Out of stock aborts it (the authorization is voided) and names the item."""
    dbsession = request.dbsession
    dbsession.add(order)
    dbsession.flush()
    try:
        request.hooks.mercato_reserve_stock(
            dbsession=dbsession, lines=services.order_lines_for_stock(order)
        )
    except OutOfStock as exc:
        name = next((line.name for line in order.lines if line.sku == exc.sku), exc.sku)
        raise CartProblem(_stock_message(name, exc.requested, exc.available), sku=exc.sku) from None
    linked = dbsession.execute(
        update(m.Payment)
        .where(
            m.Payment.id == payment.id,
            m.Payment.order_id.is_(None),
            m.Payment.status.in_((m.PAYMENT_AUTHORIZED, m.PAYMENT_REQUIRES_ACTION)),
        )
        .values(order_id=order.id)
    ).rowcount
    if linked != 1:
        # reconcile voided it meanwhile (a request slower than its grace period).
        raise PaymentUnavailable(
            "Your payment expired before the order was saved. Please try again."
        )


def _record_placed(request, order: m.Order, payment: m.Payment) -> None:
    """The order's history and events; with its money held, its confirmation email
    (step 6). A provider that took the money at once makes it paid."""
    actor = services.actor_of(request)
    services.record_change(order, None, m.AWAITING_PAYMENT, actor=actor, reason="order placed")
    request.hooks.mercato_order_status_changed(order=order, old=None, new=m.AWAITING_PAYMENT)
    request.hooks.mercato_order_placed(order=order)
    if payment.status in (m.PAYMENT_AUTHORIZED, m.PAYMENT_CAPTURED):
        _authorized(request, order, payment, actor=actor)
    if payment.status == m.PAYMENT_CAPTURED:
        services.payment_captured(
            order,
            Money(payment.amount_captured, payment.currency),
            hooks=request.hooks,
            actor=actor,
            reason=f"payment captured ({payment.provider} {payment.reference})",
        )
    request.dbsession.flush()


def _authorized(request, order: m.Order, payment, *, actor: str) -> None:
    """The order's money is held: it may be announced and the cart emptied."""
    services.payment_authorized(
        order,
        hooks=request.hooks,
        actor=actor,
        reason=f"payment authorized ({payment.provider} {payment.reference})",
    )
    enqueue(request.dbsession, "order.placed", order_placed_payload(request, order))


def _placed(request, order: m.Order, payment, *, repeated: bool = False) -> Placed:
    """Step 5: once the transaction committed, the cart is emptied and a new checkout
    begins — for a repeat too: the submit that placed it may have died before that."""
    if order.status in (m.AUTHORIZED, m.PAID, m.FULFILLED):
        finish_checkout(request, order)
    return Placed(order, payment, repeated)


# ---------------------------------------------------------------------------
# One submit of a checkout at a time
# ---------------------------------------------------------------------------


def lock_checkout(request, checkout_id: str) -> None:
    """One submit of a checkout at a time (a double click, two tabs), until the request
    ends; ``CheckoutBusy`` (409) while another holds it."""
    lock = CheckoutLock(request.redis, checkout_id)
    if not lock.acquire():
        raise CheckoutBusy("Your order is already being placed. Please wait a moment.")
    request.add_finished_callback(lambda _request: lock.release())


class CheckoutLock:
    """A short Redis lock that a thread renews for as long as the submit runs.

    Not a long TTL (a killed worker's lock would refuse every resubmit until it
    expired) nor a check of the owner's process (any worker, on any machine, may serve
    the resubmit): the lock lives only as long as someone keeps it. One key per
    command, so Redis Cluster keeps working.
    """

    def __init__(self, client: redis.Redis, checkout_id: str):
        self.client = client
        self.key = f"checkout:{{{checkout_id}}}:lock"
        self.token = secrets.token_hex(8)
        self._done = threading.Event()

    def acquire(self) -> bool:
        if not self.client.set(self.key, self.token, nx=True, px=LOCK_MS):
            return False
        threading.Thread(target=self._keep, name=f"lock {self.key}", daemon=True).start()
        return True

    def _keep(self) -> None:
        deadline = time.monotonic() + LOCK_MAX_S
        while not self._done.wait(LOCK_RENEW_S) and time.monotonic() < deadline:
            try:
                kept = self.client.eval(RENEW_LOCK, 1, self.key, self.token, LOCK_MS)
            except redis.RedisError as exc:
                log.warning("%s not renewed (%s): trying again", self.key, exc)
                continue
            if not kept and not self._done.is_set():
                log.warning("%s lost while its submit was running", self.key)
                return

    def release(self) -> None:
        self._done.set()
        try:
            # Delete only our own lock: a late release never frees another submit's.
            self.client.eval(RELEASE_LOCK, 1, self.key, self.token)
        except redis.RedisError:
            log.warning("%s not released (expires by itself)", self.key)


RENEW_LOCK = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
RELEASE_LOCK = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


# ---------------------------------------------------------------------------
# The payment's record, kept whatever the transaction does
# ---------------------------------------------------------------------------


def void_now(registry, payment: m.Payment) -> None:
    """Void an authorization outside any transaction (a stale one, reconcile)."""
    info = PaymentInfo.of(payment)
    result, why = payments.void(registry, info)
    if result is None:
        ledger.mark(registry.db_engine, info.id, m.PAYMENT_VOIDING, f"void: {why}")
        return
    ledger.record(registry.db_engine, info.id, result)


class OrderLedger:
    """What the payment data manager reports, written for the kernel's orders."""

    def __init__(self, registry):
        self.registry = registry

    def captured(self, payment: PaymentInfo, result: PaymentResult) -> None:
        reason = f"payment captured ({payment.provider} {payment.reference})"
        services.record_capture(self.registry, payment.id, result, reason)

    def capture_failed(self, payment: PaymentInfo, error: str) -> None:
        ledger.record_error(self.registry.db_engine, payment.id, f"capture: {error}")

    def voided(self, payment: PaymentInfo, result: PaymentResult) -> None:
        ledger.record(self.registry.db_engine, payment.id, result)

    def void_failed(self, payment: PaymentInfo, error: str) -> None:
        ledger.mark(self.registry.db_engine, payment.id, m.PAYMENT_VOIDING, f"void: {error}")


# ---------------------------------------------------------------------------
# After the commit: the cart, the session
# ---------------------------------------------------------------------------


def after_commit(request, work) -> None:
    """Run ``work(request)`` once this request's transaction committed, in a new one.

    Not in an after-commit hook of the transaction itself: there, the request's
    session is finished and a new transaction cannot begin. A response callback runs
    after pyramid_tm is done, and before the session is saved.
    """
    outcome = {"committed": False}
    request.tm.get().addAfterCommitHook(lambda ok: outcome.update(committed=ok))

    def run(request, _response):
        if not outcome["committed"]:
            return
        try:
            with request.tm:
                work(request)
        except Exception:
            log.exception("after-commit work failed (the order itself is safe)")

    request.add_response_callback(run)


def finish_checkout(request, order: m.Order) -> None:
    """After the commit: start a new checkout, then empty the cart that became ``order``.

    Safe to run again for the same order (a repeated submit finds it): the checkout
    moves on only from ``order``'s own, and an emptied cart stays empty.
    """
    # Read now: after the commit, ORM objects are expired and detached.
    order_id, checkout_id = order.id, order.checkout_id

    def work(request):
        # First, and whatever the plugins do next: a session left on a finished
        # checkout would answer the next purchase with this order.
        state = request.session.get(SESSION_KEY) or {}
        if state.get("id") == checkout_id:
            request.session[SESSION_KEY] = {
                k: v for k, v in state.items() if k in ("email", "shipping", "billing")
            } | {"id": secrets.token_hex(16)}
        request.hooks.mercato_cart_checked_out(
            request=request, order=request.dbsession.get(m.Order, order_id)
        )

    after_commit(request, work)


def restart_checkout(request, checkout_id: str, message: str) -> None:
    """After the commit: a failed payment leaves the cart; the next submit is a new order."""

    def work(request):
        state = request.session.get(SESSION_KEY) or {}
        if state.get("id") == checkout_id:
            request.session[SESSION_KEY] = {**state, "id": secrets.token_hex(16)}
            request.session.flash(message)

    after_commit(request, work)


# ---------------------------------------------------------------------------
# News from a payment provider (webhook, return page)
# ---------------------------------------------------------------------------


def payment_updated(
    request,
    provider: str,
    reference: str,
    result: PaymentResult,
    *,
    event_id: str | None = None,
    occurred_at: int | None = None,
):
    """Apply news from ``provider`` about the payment ``reference`` to its order.

    Called by a payment plugin from its webhook handler or its return page, inside the
    request's transaction. Idempotent: an event seen before (``event_id``), one older
    than what was already applied (``occurred_at``, Unix seconds) or one that would move
    the payment backwards (a late "authorized" after "captured") changes nothing.
    Returns the order the payment belongs to, or ``None`` when the kernel does not know
    the payment (not one of this shop's, or its checkout never committed).
    """
    dbsession = request.dbsession
    if event_id is not None:
        fresh = dbsession.execute(
            pg_insert(m.ProviderEvent)
            .values(provider=provider, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(m.ProviderEvent.event_id)
        ).first()
        if fresh is None:
            log.info("%s event %s seen before: ignored", provider, event_id)
            return None
    payment, order = _lock_payment_and_order(dbsession, provider, reference)
    if payment is None:
        return None
    if occurred_at is not None:
        if payment.last_event_at is not None and occurred_at < payment.last_event_at:
            log.info("%s event for %s older than the last applied: ignored", provider, reference)
            return payment.order
        payment.last_event_at = occurred_at

    actor = f"{provider} ({'webhook' if event_id else 'return page'})"
    was_awaiting = order is not None and order.status == m.AWAITING_PAYMENT

    if result.status == "authorized" and payment.status in (
        m.PAYMENT_PENDING,
        m.PAYMENT_REQUIRES_ACTION,
    ):
        ledger.apply_result(payment, result)
        if order is not None and was_awaiting:
            _authorized(request, order, payment, actor=actor)
            dbsession.flush()
            # The authorization is the shopper's, not this request's: an abort here
            # leaves it for the provider's next delivery or for reconcile.
            _hold_until_commit(request, payment, void_on_abort=False)
        elif order is not None and order.status in services.CAPTURED_STATUSES:
            # A balance paid after 3-D Secure: taken at once, as the rest was.
            _hold_until_commit(request, payment, void_on_abort=False, capture=True)
    elif result.status == "captured" and payment.status != m.PAYMENT_CAPTURED:
        ledger.apply_result(payment, result)
        if order is not None:
            if was_awaiting:
                _authorized(request, order, payment, actor=actor)
            services.payment_captured(
                order,
                result.amount or payment.amount_money,
                hooks=request.hooks,
                actor=actor,
                reason=f"payment captured ({provider} {reference})",
            )
    elif result.status in ("failed", "voided") and payment.status in (
        m.PAYMENT_PENDING,
        m.PAYMENT_REQUIRES_ACTION,
        m.PAYMENT_AUTHORIZED,
        m.PAYMENT_VOIDING,
    ):
        ledger.apply_result(payment, result)
        if order is not None:
            # A balance payment that fails loses the balance only, never the order.
            if not _other_payment_holds(order, payment):
                services.payment_lost(
                    order,
                    hooks=request.hooks,
                    dbsession=dbsession,
                    actor=actor,
                    reason=result.message or f"payment {result.status}",
                )
            if result.status == "failed" and payment.reference:
                # A failed 3-D Secure leaves the PaymentIntent open: close it. Recorded
                # in this transaction, which holds the payment's row lock.
                _void_locked(request.registry, payment)
    dbsession.flush()

    # A provider's event (it has an id) comes from the provider's servers, never from the
    # shopper's browser, whatever cookies it carries.
    if order is not None and event_id is None and _is_shoppers_checkout(request, order):
        if order.status in (m.AUTHORIZED, m.PAID):
            finish_checkout(request, order)
        elif order.status == m.CANCELLED:
            restart_checkout(
                request,
                order.checkout_id,
                (result.message or "Your payment did not go through.")
                + " Your cart is as you left it: please try again.",
            )
    return order


def _lock_payment_and_order(dbsession, provider: str, reference: str):
    """The payment ``reference`` and its order, each under its row lock: the order's
    first, as a refund takes them (it holds the order's while its own connection locks
    the payment). Locked the other way round, a webhook and a refund each waited for the
    other's row until the statement timeout."""
    for _attempt in range(3):
        found = dbsession.execute(
            select(m.Payment.id, m.Payment.order_id).where(
                m.Payment.provider == provider, m.Payment.reference == reference
            )
        ).first()
        if found is None:
            return None, None
        order = None
        if found.order_id is not None:
            order = dbsession.get(
                m.Order, found.order_id, with_for_update=True, populate_existing=True
            )
        payment = dbsession.get(m.Payment, found.id, with_for_update=True, populate_existing=True)
        if payment.order_id == found.order_id:  # not linked to its order meanwhile
            return payment, order
    raise CheckoutBusy("The payment is being updated. Please try again.")


def _other_payment_holds(order: m.Order, payment: m.Payment) -> bool:
    held = (m.PAYMENT_AUTHORIZED, m.PAYMENT_CAPTURED)
    return any(other.status in held for other in order.payments if other is not payment)


def _void_locked(registry, payment: m.Payment) -> None:
    result, why = payments.void(registry, PaymentInfo.of(payment))
    if result is None:
        # reconcile tries again.
        payment.status = m.PAYMENT_VOIDING
        payment.last_error = f"void: {why}"[: ledger.ERROR_LENGTH]
        return
    ledger.apply_result(payment, result)


def _is_shoppers_checkout(request, order: m.Order) -> bool:
    state = request.session.get(SESSION_KEY) or {}
    return state.get("id") == order.checkout_id


# ---------------------------------------------------------------------------
# Links the kernel hands out (emails, JSON, payment plugins) and the confirmation email
# ---------------------------------------------------------------------------


def order_placed_payload(request, order: m.Order) -> dict:
    def money(amount: int) -> dict:
        return Money(amount, order.currency).to_json()

    return {
        "email": order.email,
        "number": order.number,
        "order_url": order_page_url(request, order),
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": line.unit_price.to_json(),
                "total": line.total.to_json(),
            }
            for line in order.lines
        ],
        "adjustments": [{**adj, "amount": money(adj["amount"])} for adj in order.adjustments],
        "shipping": {
            "method": order.shipping_method,
            "name": order.shipping_name,
            "price": money(order.shipping_amount),
        },
        "taxes": [{**tax, "amount": money(tax["amount"])} for tax in order.tax_lines],
        "subtotal": order.subtotal.to_json(),
        "total": order.total.to_json(),
        "currency": order.currency,
        "shipping_address": order.shipping_address,
    }
