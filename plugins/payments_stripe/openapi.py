"""The Stripe plugin's part of the OpenAPI document (``mercato_openapi``): the way back
from 3-D Secure for an app (``views.api_return``)."""

RETURN = {
    "type": "object",
    "properties": {
        "payment_intent": {"type": "string", "pattern": "^pi_[A-Za-z0-9]+$"},
        "client_secret": {"type": "string"},
    },
    "required": ["payment_intent", "client_secret"],
}
RETURNED = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "description": "The order's status: authorized, paid …"},
        "url": {"type": "string", "description": "The order's JSON, by its secret link."},
        "message": {"type": "string", "description": "Why, when the order is cancelled."},
    },
    "required": ["status", "url"],
}


def fragment() -> dict:
    return {
        "paths": {
            "/api/stripe/return": {
                "post": {
                    "tags": ["checkout"],
                    "summary": "Back from 3-D Secure: apply what Stripe says of the payment",
                    "description": (
                        "After `POST /api/checkout/orders` answered 202 with an `action` and "
                        "the cardholder passed (or failed) the bank's check "
                        "(`stripe.handleNextAction`), send the PaymentIntent and its client "
                        "secret: the order is then authorized or paid, or cancelled (with a "
                        "`message`; the cart is there to try again). The client secret is the "
                        "credential: no CSRF token is needed. Stripe's webhook does the same "
                        "later for a client that never comes back."
                    ),
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": RETURN}},
                    },
                    "responses": {
                        "200": {
                            "description": "What became of the order.",
                            "content": {"application/json": {"schema": RETURNED}},
                        },
                    },
                }
            }
        }
    }
