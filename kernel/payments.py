"""Payments as the kernel sees them: the types payment plugins return, and the one path
by which the kernel asks a payment plugin for anything (authorize, capture, void, refund).

A payment plugin offers ``PaymentMethod``s (``mercato_payment_methods``), answers the
authorize/capture/void/refund hooks with a ``PaymentResult``, and reports what happens
later through ``mercato.payment_updated``. The kernel keeps its own record of every
payment (``mercato.orders.models.Payment``): the plugin never touches orders.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from .money import Money

log = logging.getLogger(__name__)

# What a provider may say about a payment, in the order a payment lives through them.
REQUIRES_ACTION = "requires_action"  # the shopper must finish it in the browser (3-D Secure)
AUTHORIZED = "authorized"  # money held, not taken
CAPTURED = "captured"  # money taken
VOIDED = "voided"  # authorization cancelled, nothing taken
REFUNDED = "refunded"  # (part of) the captured money returned
FAILED = "failed"  # declined: nothing held; ``message`` says why in plain words
UNAVAILABLE = "unavailable"  # the provider could not be reached or timed out

RESULT_STATUSES = frozenset(
    {REQUIRES_ACTION, AUTHORIZED, CAPTURED, VOIDED, REFUNDED, FAILED, UNAVAILABLE}
)


@dataclass(frozen=True)
class PaymentMethod:
    """A way to pay that checkout offers.

    ``code`` is what the shopper's choice posts (``acme_card``); ``provider`` names the
    plugin's provider (``acme``), stored with every payment so that capture, void and
    refund reach the same plugin. ``template`` is a Jinja2 fragment the payment step
    includes inside its form (card fields, scripts); ``action_template`` is the page
    fragment that completes a ``requires_action`` result in the browser. ``options`` is
    handed to both templates (publishable keys, script URLs).
    """

    code: str
    label: str
    provider: str
    template: str | None = None
    action_template: str | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentResult:
    """What a provider answered.

    ``reference`` is the provider's id of the payment (a PaymentIntent id); ``amount``
    what the status applies to (authorized, captured or refunded). ``message`` is shown
    to the shopper as is when the status is ``failed`` or ``unavailable``, so it must be
    plain words. ``action`` carries what the browser needs for ``requires_action``
    (a client secret). ``raw`` keeps the provider's answer for the log, never for pages.
    """

    status: str
    provider: str
    reference: str | None = None
    amount: Money | None = None
    message: str = ""
    action: dict | None = None
    raw: Any = None

    def __post_init__(self):
        if self.status not in RESULT_STATUSES:
            raise ValueError(f"unknown payment status {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status in (REQUIRES_ACTION, AUTHORIZED, CAPTURED, VOIDED, REFUNDED)


@dataclass(frozen=True)
class PaymentInfo:
    """The payment that capture, void and refund hooks receive as ``payment``.

    ``reference`` is what the provider's plugin returned when it authorized (``None``
    when the provider never answered: the plugin may look the payment up by
    ``checkout_id``/``id``, which it can put in the provider's metadata).
    """

    id: int
    checkout_id: str
    attempt: int
    provider: str
    method: str
    reference: str | None
    status: str
    amount: int
    currency: str
    amount_captured: int = 0
    order_id: int | None = None

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def idempotency_prefix(self) -> str:
        """Stable across retries of a request: ``mercato:{checkout}:{attempt}``."""
        return f"mercato:{self.checkout_id}:{self.attempt}"

    @classmethod
    def of(cls, payment) -> "PaymentInfo":
        """A snapshot of the kernel's payment record, safe to keep after its session."""
        return cls(
            id=payment.id,
            checkout_id=payment.checkout_id,
            attempt=payment.attempt,
            provider=payment.provider,
            method=payment.method,
            reference=payment.reference,
            status=payment.status,
            amount=payment.amount,
            currency=payment.currency,
            amount_captured=payment.amount_captured or 0,
            order_id=payment.order_id,
        )


# ---------------------------------------------------------------------------
# The one path to a payment plugin: every capture, void, refund and authorization the
# kernel asks for goes through these functions, with its idempotency key made here.
# ---------------------------------------------------------------------------

# The same operation on the same payment carries the same key however often a request
# is retried or reconcile runs again (pyramid_retry re-runs a whole view, and a
# provider's SDK may put a random key on every call): the provider does it at most once.
AUTHORIZE, CAPTURE, VOID = "authorize", "capture", "void"


def idempotency_key(payment: PaymentInfo, operation: str) -> str:
    """``mercato:{checkout}:{attempt}:{operation}``."""
    return f"{payment.idempotency_prefix}:{operation}"


def refund_key(refund_id: int) -> str:
    """One key per refund row: two refunds of the same amount are two refunds."""
    return f"mercato:refund:{refund_id}"


def authorize(registry, payment: PaymentInfo, order, details: dict) -> PaymentResult | None:
    """Ask the plugin that owns ``payment.method`` to authorize ``order.total``.

    Returns ``None`` when no plugin answers for the method. Raises what the plugin
    raises: the caller records it on the payment and aborts the checkout.
    """
    return registry.hooks.mercato_authorize_payment(
        registry=registry,
        order=order,
        method=payment.method,
        details=details,
        idempotency_key=idempotency_key(payment, AUTHORIZE),
    )


def capture(
    registry, payment: PaymentInfo, amount: Money | None = None
) -> tuple[PaymentResult | None, str]:
    """Ask the payment's plugin to capture ``amount`` (all of it by default: less when
    the order came down since it was authorized); never raises.

    Returns ``(result, "")`` when the money is taken, else ``(None, why)``: the caller
    records why and ``mercato reconcile`` (or a person) tries again.
    """
    return _ask(
        registry.hooks.mercato_capture_payment,
        ("captured",),
        payment,
        registry=registry,
        payment=payment,
        amount=amount or payment.amount_money,
        idempotency_key=idempotency_key(payment, CAPTURE),
    )


def void(registry, payment: PaymentInfo) -> tuple[PaymentResult | None, str]:
    """Ask the payment's plugin to void it; never raises (see ``capture``).

    ``failed`` settles it too: nothing is left to void.
    """
    return _ask(
        registry.hooks.mercato_void_payment,
        ("voided", "failed"),
        payment,
        registry=registry,
        payment=payment,
        idempotency_key=idempotency_key(payment, VOID),
    )


def refund(registry, payment: PaymentInfo, amount: Money, refund_id: int) -> PaymentResult:
    """Ask the payment's plugin to return ``amount`` for the refund row ``refund_id``;
    never raises. The answer is ``refunded``, ``failed`` (refused: nothing went back)
    or ``unavailable`` (no answer, or an error: the provider may have refunded; asked
    again with the same key, the refund is made once)."""
    try:
        result = registry.hooks.mercato_refund_payment(
            registry=registry,
            payment=payment,
            amount=amount,
            idempotency_key=refund_key(refund_id),
        )
    except Exception as exc:
        log.exception("payment %s: refund %s failed", payment.id, refund_id)
        return PaymentResult(UNAVAILABLE, payment.provider, message=f"{type(exc).__name__}: {exc}")
    if result is None:
        why = f"no plugin answers for provider {payment.provider!r}"
        return PaymentResult(FAILED, payment.provider, message=why)
    if result.status not in (REFUNDED, UNAVAILABLE):
        return PaymentResult(FAILED, payment.provider, message=result.message or result.status)
    return result


def _ask(hook, settled: tuple[str, ...], info, **kwargs):
    try:
        result = hook(**kwargs)
    except Exception as exc:
        log.exception("payment %s: %s failed", info.id, hook.name)
        return None, f"{type(exc).__name__}: {exc}"
    if result is None:
        return None, f"no plugin answers for provider {info.provider!r}"
    if result.status not in settled:
        return None, result.message or result.status
    return result, ""
