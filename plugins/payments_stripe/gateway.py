"""Stripe PaymentIntents, spoken to through the official SDK.

Every POST carries a deterministic idempotency key from the kernel (the SDK's own is
random, which would let a retried request authorize twice), and every call that changes
a PaymentIntent first reads its state, so capture and void can be repeated safely —
localstripe ignores idempotency keys, real Stripe honours them: both end the same.
"""

import logging
import re

import stripe

from mercato import Money, PaymentResult

log = logging.getLogger(__name__)

PROVIDER = "stripe"
METHOD = "stripe_card"
# A PaymentMethod from Stripe.js, or the card of a token (localstripe's Stripe.js).
PAYMENT_METHOD_ID = re.compile(r"^(pm|card|src)_[A-Za-z0-9_]{1,200}$")
PAYMENT_INTENT_ID = re.compile(r"^pi_[A-Za-z0-9]{1,200}$")
SEARCH_LIMIT = 1000
# What Stripe lets a PaymentIntent be cancelled from.
CANCELLABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
)

UNREACHABLE = "We could not reach the payment service. Nothing was charged; please try again."
DECLINED = "Your card was declined. Please try another card."
UNUSABLE = "Your card details could not be used. Please check them or try another card."


def make_client(settings: dict) -> stripe.StripeClient:
    return stripe.StripeClient(
        settings["api_key"],
        base_addresses={"api": settings["api_base"].rstrip("/")},
        http_client=stripe.RequestsClient(timeout=settings["timeout"]),
        max_network_retries=settings["max_network_retries"],
    )


def result_of(pi) -> PaymentResult:
    """A PaymentIntent's state as the kernel's ``PaymentResult``."""
    amount = Money(pi.amount, pi.currency.upper())
    status = pi.status
    if status == "requires_capture":
        return PaymentResult("authorized", PROVIDER, pi.id, amount, raw=status)
    if status == "succeeded":
        received = getattr(pi, "amount_received", None) or pi.amount
        return PaymentResult("captured", PROVIDER, pi.id, Money(received, amount.currency))
    if status == "requires_action":
        return PaymentResult(
            "requires_action",
            PROVIDER,
            pi.id,
            amount,
            action={"client_secret": pi.client_secret, "payment_intent": pi.id},
        )
    if status == "canceled":
        return PaymentResult("voided", PROVIDER, pi.id, amount)
    if status == "requires_payment_method":
        error = getattr(pi, "last_payment_error", None)
        message = getattr(error, "message", None) if error else None
        return PaymentResult("failed", PROVIDER, pi.id, amount, message=_plain(message))
    # processing / requires_confirmation: not something a shopper can act on now.
    return PaymentResult(
        "unavailable", PROVIDER, pi.id, amount, message="Your payment is still being processed."
    )


def _plain(message: str | None) -> str:
    if not message:
        return DECLINED
    if "authentication" in message.lower():
        return "Your bank could not confirm this payment. Please try again or use another card."
    return message.rstrip(".") + ". Please try another card."


class Gateway:
    def __init__(self, client: stripe.StripeClient):
        self.client = client

    def authorize(self, order, details: dict, idempotency_key: str) -> PaymentResult:
        payment_method = details.get("payment_method", "")
        if not PAYMENT_METHOD_ID.match(payment_method):
            return PaymentResult("failed", PROVIDER, message="Please enter your card details.")
        params = {
            "amount": order.total.amount,
            "currency": order.total.currency.lower(),
            "payment_method": payment_method,
            "payment_method_types": ["card"],
            "capture_method": "manual",
            "confirm": True,
            "metadata": {
                "mercato_checkout": order.checkout_id,
                "mercato_order": order.number,
                "mercato_key": idempotency_key,
            },
        }
        try:
            pi = self.client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.CardError as exc:
            return PaymentResult("failed", PROVIDER, message=_plain(exc.user_message))
        except stripe.APIConnectionError:
            log.warning("stripe: authorize %s: Stripe unreachable", idempotency_key)
            return PaymentResult("unavailable", PROVIDER, message=UNREACHABLE)
        except stripe.StripeError as exc:
            log.warning("stripe: authorize %s refused: %s", idempotency_key, exc)
            return PaymentResult("failed", PROVIDER, message=UNUSABLE)
        return result_of(pi)

    def capture(self, payment, amount: Money, idempotency_key: str) -> PaymentResult:
        # Captured straight away, not read first: the read was a third round trip in
        # every checkout's request. Stripe captures only a PaymentIntent waiting for
        # it and refuses any other; only then is its state read, to tell a repeat (it
        # was captured already) from a cancelled or 3-D Secure one.
        try:
            pi = self.client.v1.payment_intents.capture(
                payment.reference,
                params={"amount_to_capture": amount.amount},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.APIConnectionError:
            return PaymentResult("unavailable", PROVIDER, payment.reference, message=UNREACHABLE)
        except stripe.StripeError as refused:
            pi, answer = self._read_after_refusal(payment.reference, refused, ("requires_capture",))
            if pi is None:
                return answer
        result = result_of(pi)
        if result.status == "captured" and getattr(pi, "amount_received", None) is None:
            # localstripe does not say what it took (Stripe does): what was asked for.
            return PaymentResult("captured", PROVIDER, pi.id, amount)
        return result

    def void(self, payment, idempotency_key: str) -> PaymentResult:
        reference = payment.reference
        try:
            reference = reference or self._find(payment)
            if reference is None:
                # Stripe never created anything for this attempt: nothing is held.
                return PaymentResult("voided", PROVIDER, None, payment.amount_money)
            # Cancelled straight away, as a capture is (see ``capture``): Stripe cancels
            # only what may still be cancelled and refuses the rest.
            pi = self.client.v1.payment_intents.cancel(
                reference, options={"idempotency_key": idempotency_key}
            )
        except stripe.APIConnectionError:
            return PaymentResult("unavailable", PROVIDER, payment.reference, message=UNREACHABLE)
        except stripe.StripeError as refused:
            if reference is None:  # the search for it failed
                return PaymentResult("unavailable", PROVIDER, None, message=str(refused))
            pi, answer = self._read_after_refusal(reference, refused, CANCELLABLE, "unavailable")
            if pi is None:
                return answer
        return result_of(pi)

    def _read_after_refusal(self, reference, refused, still: tuple, fail: str = "failed"):
        """The PaymentIntent Stripe refused to change, read to learn why: ``(pi, None)``
        when its state answers (done already, or never to be done), ``(None, result)``
        when it is still in a state ``still`` that the call should have changed (the
        refusal was about something else: an amount, a key)."""
        try:
            pi = self.client.v1.payment_intents.retrieve(reference)
        except stripe.APIConnectionError:
            return None, PaymentResult("unavailable", PROVIDER, reference, message=UNREACHABLE)
        except stripe.StripeError as exc:
            return None, PaymentResult(fail, PROVIDER, reference, message=str(exc))
        if pi.status in still:
            return None, PaymentResult(fail, PROVIDER, reference, message=str(refused))
        return pi, None

    def refund(self, payment, amount: Money, idempotency_key: str) -> PaymentResult:
        # Asked again for the same refund row (``mercato reconcile`` finishing a refund
        # whose process died while Stripe answered), the refund made the first time is
        # found by the key in its metadata: Stripe forgets an idempotency key after 24
        # hours (localstripe keeps none), and a second create would refund twice.
        try:
            refund = self._refund_made(payment.reference, idempotency_key)
            refund = refund or self.client.v1.refunds.create(
                params={
                    "payment_intent": payment.reference,
                    "amount": amount.amount,
                    "metadata": {"mercato_key": idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.APIConnectionError:
            return PaymentResult("unavailable", PROVIDER, payment.reference, message=UNREACHABLE)
        except stripe.StripeError as exc:
            return PaymentResult("failed", PROVIDER, payment.reference, message=str(exc))
        if refund.status not in ("succeeded", "pending"):
            return PaymentResult("failed", PROVIDER, refund.id, message=f"refund {refund.status}")
        return PaymentResult("refunded", PROVIDER, refund.id, Money(refund.amount, amount.currency))

    def _refund_made(self, reference: str, idempotency_key: str):
        page = self.client.v1.refunds.list(params={"payment_intent": reference, "limit": 100})
        for refund in page.auto_paging_iter():
            if getattr(getattr(refund, "metadata", None), "mercato_key", None) == idempotency_key:
                return refund
        return None

    def retrieve(self, reference: str):
        return self.client.v1.payment_intents.retrieve(reference)

    def _find(self, payment) -> str | None:
        """The PaymentIntent made for ``payment`` when Stripe's answer never reached us
        (a timeout, a crash): found by the idempotency key we put in its metadata."""
        prefix = payment.idempotency_prefix + ":"
        page = self.client.v1.payment_intents.list(params={"limit": 100})
        for seen, pi in enumerate(page.auto_paging_iter()):
            if seen >= SEARCH_LIMIT:
                break
            key = getattr(getattr(pi, "metadata", None), "mercato_key", None) or ""
            if key.startswith(prefix):
                return pi.id
        return None
