"""Stripe's webhook and the page 3-D Secure returns to; both finish a payment through
``mercato.payment_updated``, whichever comes first (the other then changes
nothing)."""

import hmac
import logging

import stripe
from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound, HTTPSeeOther
from pyramid.view import view_config

from mercato import order_page_url, payment_updated, storefront_url

from .gateway import PAYMENT_INTENT_ID, PROVIDER, result_of
from .hooks import SETTINGS_KEY, gateway

log = logging.getLogger(__name__)

# Event type → what it says about the PaymentIntent in ``data.object``.
EVENTS = {
    "payment_intent.amount_capturable_updated",  # manual capture: authorized
    "payment_intent.succeeded",  # captured
    "payment_intent.payment_failed",
    "payment_intent.canceled",
}


def _bad_request(request, message: str) -> dict:
    request.response.status_int = 400
    return {"error": {"status": 400, "message": message}}


@view_config(
    route_name="stripe_webhook", request_method="POST", renderer="json", require_csrf=False
)
def webhook(request):
    """Stripe's signed events. Signature checked first: nothing is read before that."""
    settings = request.registry.settings[SETTINGS_KEY]
    signature = request.headers.get("Stripe-Signature", "")
    try:
        event = stripe.Webhook.construct_event(
            request.body.decode("utf-8"),
            signature,
            settings["webhook_secret"],
            tolerance=settings["webhook_tolerance"],
        )
    except stripe.SignatureVerificationError:
        log.warning("stripe webhook: bad signature")
        return _bad_request(request, "invalid signature")
    except (ValueError, UnicodeDecodeError):
        return _bad_request(request, "invalid payload")
    if event.type not in EVENTS:
        return {"received": True, "applied": False}
    pi = event.data.object
    # The PaymentIntent's status in the event says what happened; the kernel ignores
    # anything older than what it already applied.
    order = payment_updated(
        request, PROVIDER, pi.id, result_of(pi), event_id=event.id, occurred_at=event.created
    )
    return {"received": True, "applied": order is not None}


def _finish(request, reference, secret):
    """The order of the PaymentIntent ``reference`` after applying what Stripe says of
    it, for whoever holds its client ``secret`` (the shopper's browser or app)."""
    if not isinstance(reference, str) or not PAYMENT_INTENT_ID.match(reference):
        raise HTTPBadRequest("This payment link is not valid.")
    try:
        pi = gateway(request.registry).retrieve(reference)
    except stripe.InvalidRequestError:
        raise HTTPNotFound() from None
    except stripe.StripeError:
        log.warning("stripe return: could not read %s", reference)
        raise HTTPBadRequest(
            "We could not check your payment with the bank just now. Please try again."
        ) from None
    # Only the browser that holds the client secret may look at this payment.
    if not isinstance(secret, str) or not hmac.compare_digest(
        secret.encode(), (pi.client_secret or "").encode()
    ):
        raise HTTPNotFound()
    order = payment_updated(request, PROVIDER, pi.id, result_of(pi))
    if order is None:
        raise HTTPNotFound()
    return order


@view_config(route_name="stripe_return", request_method="GET")
def return_page(request):
    """Where the browser lands after 3-D Secure (Stripe.js or Stripe's redirect)."""
    order = _finish(
        request,
        request.GET.get("payment_intent", ""),
        request.GET.get("payment_intent_client_secret", ""),
    )
    if order.status == "cancelled":
        return HTTPSeeOther(storefront_url(request, "checkout_payment", "api_checkout"))
    return HTTPSeeOther(order_page_url(request, order))


# The client secret is the credential, as on the page above: a forged cross-site POST
# would need it, so no CSRF token is asked of an app that may have no session.
@view_config(
    route_name="stripe_api_return", request_method="POST", renderer="json", require_csrf=False
)
def api_return(request):
    """An app's way back from 3-D Secure: the same as the page, answered in JSON."""
    try:
        body = request.json_body
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise HTTPBadRequest("Send a JSON object with payment_intent and client_secret.")
    order = _finish(request, body.get("payment_intent"), body.get("client_secret"))
    answer = {
        "status": order.status,
        "url": storefront_url(
            request, "api_order_link", "checkout_confirmation", token=order.access_token
        ),
    }
    if order.status == "cancelled":
        # A 200 all the same: the request did what it should (a 4xx would roll back the
        # cancellation, which puts the stock back); the order says what became of it.
        answer["message"] = "The bank did not confirm the payment: the order is cancelled."
    return answer
