"""Place an order through Mercato's JSON API alone, as a mobile app or a storefront on
another origin does: catalog → cart → address → shipping method → card payment, the
3-D Secure step included. docs/api-client.md walks through it.

Against ``mercato demo`` (``PORT``: localstripe's, where the checkout's payment page
loads Stripe.js from)::

    python examples/api_client/place_order.py http://127.0.0.1:6543 \\
        --stripe http://127.0.0.1:PORT --publishable-key pk_test_mercato

Needs ``httpx``. The shopper is a guest: the session cookie (kept by the client) holds
the cart and the checkout, and every change sends the session's CSRF token.
"""

import argparse
import json

import httpx

CARD_3DS = "4000002500003155"  # a test card whose bank asks for 3-D Secure
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
}


def card_payment_method(stripe: str, publishable_key: str, number: str) -> str:
    """What Stripe's SDK does in the app with the publishable key: the card goes to
    Stripe, never to the shop, which gets an id to pay with. (A real app uses the
    SDK's card form; Stripe's stand-in, localstripe, takes the card as a token.)"""
    card = {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"}
    response = httpx.post(
        f"{stripe}/v1/tokens",
        data={"key": publishable_key, **{f"card[{name}]": value for name, value in card.items()}},
    )
    return response.raise_for_status().json()["card"]["id"]


def authenticate(stripe: str, publishable_key: str, action: dict) -> None:
    """The cardholder passes 3-D Secure. A real app shows the bank's challenge with
    ``stripe.handleNextAction({clientSecret})``; Stripe's stand-in, localstripe, is
    told the outcome instead."""
    pi = action["payment_intent"]
    body = {"key": publishable_key, "client_secret": action["client_secret"]}
    httpx.post(
        f"{stripe}/v1/payment_intents/{pi}/_authenticate?success=true", json=body
    ).raise_for_status()


def finish_payment(api: httpx.Client, action: dict) -> dict:
    """Tell the shop the cardholder is back from 3-D Secure (Stripe's webhook would tell
    it too, later); then read the order by its secret link."""
    back = {"payment_intent": action["payment_intent"], "client_secret": action["client_secret"]}
    returned = api.post("/api/stripe/return", json=back).raise_for_status().json()
    return api.get(returned["url"]).raise_for_status().json()["order"]


def place_order(shop: str, stripe: str, publishable_key: str, card: str = CARD_3DS) -> dict:
    """The placed order's JSON (``status`` ``authorized`` or ``paid`` once through)."""
    with httpx.Client(base_url=shop, timeout=10) as api:  # keeps the session cookie
        token = api.get("/api/session/csrf").raise_for_status().json()["csrf_token"]
        csrf = {"X-CSRF-Token": token}

        product = api.get("/api/products").raise_for_status().json()["items"][0]
        variants = api.get(f"/api/products/{product['slug']}").json()["variants"]
        sku = next(v["sku"] for v in variants if v["available"])
        api.post("/api/cart/lines", json={"sku": sku, "quantity": 1}, headers=csrf)
        address = {"email": "ada@example.com", "shipping_address": ADDRESS}
        api.put("/api/checkout/address", json=address, headers=csrf).raise_for_status()
        options = api.get("/api/checkout/shipping").json()["shipping_options"]
        choice = {"code": options[0]["code"]}
        api.put("/api/checkout/shipping", json=choice, headers=csrf).raise_for_status()

        checkout = api.get("/api/checkout").raise_for_status().json()
        payment = {
            "method": checkout["payment_methods"][0]["code"],
            "details": {"payment_method": card_payment_method(stripe, publishable_key, card)},
            # The total the shopper saw: the shop refuses (409) if it changed meanwhile.
            "expected_total": checkout["total"]["amount"],
        }
        placed = api.post("/api/checkout/orders", json=payment, headers=csrf)
        placed.raise_for_status()
        if placed.status_code == 202:  # the bank wants 3-D Secure
            action = placed.json()["action"]
            authenticate(stripe, publishable_key, action)
            return finish_payment(api, action)
        return placed.json()["order"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shop", help="the shop's address, like http://127.0.0.1:6543")
    parser.add_argument("--stripe", required=True, help="Stripe's API (localstripe's address)")
    parser.add_argument("--publishable-key", required=True)
    parser.add_argument("--card", default=CARD_3DS)
    args = parser.parse_args()
    order = place_order(
        args.shop.rstrip("/"), args.stripe.rstrip("/"), args.publishable_key, args.card
    )
    print(json.dumps({k: order[k] for k in ("number", "status", "total")}, indent=2))


if __name__ == "__main__":
    main()
