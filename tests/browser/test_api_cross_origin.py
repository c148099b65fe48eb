"""A storefront served from another origin (another loopback port) places an order in
Chromium through the shop's JSON API alone, with ``fetch`` and CORS: the session
cookie rides along (``credentials: "include"``), changes carry the session's CSRF
token read from ``/api/session/csrf``, the card goes to Stripe (localstripe), and the
3-D Secure step is passed before the order is read back as paid.

Real PostgreSQL, Redis, localstripe, waitress and Chromium; the shop is composed as
``mercato demo`` composes it, with ``mercato.cors.origins`` naming the page's origin.
"""

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mercato_payments_stripe.embedded import PUBLISHABLE_KEY
from tests.shop.conftest import all_orders, make_demo_shop, shop_catalog  # noqa: F401

STOREFRONT_PORT = 18201  # the contract's range: 18200-18299
STOREFRONT = f"http://127.0.0.1:{STOREFRONT_PORT}"
CARD_3DS = "4000002500003155"

# The storefront's whole script: what a JavaScript front end does, step by step.
SCRIPT = """
const config = JSON.parse(document.getElementById("config").textContent);
const shop = config.shop;
async function call(method, path, body, csrf) {
  const headers = {"Accept": "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(shop + path, {
    method, headers, credentials: "include",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(data)}`);
  }
  return [response.status, data];
}
async function stripe(path, fields) {
  const response = await fetch(config.stripe + path, {
    method: "POST",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: new URLSearchParams({key: config.publishable_key, ...fields}),
  });
  if (!response.ok) throw new Error("stripe " + path + ": " + response.status);
  return response.json();
}
async function buy() {
  const [, {csrf_token: csrf}] = await call("GET", "/api/session/csrf");
  const [, listing] = await call("GET", "/api/products");
  const [, product] = await call("GET", "/api/products/" + listing.items[0].slug);
  await call("POST", "/api/cart/lines", {sku: product.variants[0].sku, quantity: 1}, csrf);
  await call("PUT", "/api/checkout/address", {email: "ada@example.com", shipping_address: {
    name: "Ada Lovelace", line1: "12 Analytical Street", postal_code: "75001",
    city: "Paris", country: "FR"}}, csrf);
  const [, shipping] = await call("GET", "/api/checkout/shipping");
  await call("PUT", "/api/checkout/shipping", {code: shipping.shipping_options[0].code}, csrf);
  const [, checkout] = await call("GET", "/api/checkout");
  const token = await stripe("/v1/tokens", {"card[number]": config.card,
    "card[exp_month]": "12", "card[exp_year]": "2030", "card[cvc]": "123"});
  const [status, placed] = await call("POST", "/api/checkout/orders", {
    method: checkout.payment_methods[0].code, details: {payment_method: token.card.id},
    expected_total: checkout.total.amount}, csrf);
  if (status !== 202) throw new Error("expected the bank to ask for 3-D Secure: " + status);
  const action = placed.action;
  await stripe("/v1/payment_intents/" + action.payment_intent + "/_authenticate?success=true",
    {client_secret: action.client_secret});
  // Back from the bank: the shop applies what Stripe says of the payment (its webhook
  // would too, later; localstripe sends none for an authorization).
  const [, returned] = await call("POST", "/api/stripe/return", {
    payment_intent: action.payment_intent, client_secret: action.client_secret});
  const [, read] = await call("GET", new URL(returned.url).pathname);
  return {number: read.order.number, status: read.order.status, placed: status};
}
buy().then(
  (result) => { document.getElementById("result").textContent = JSON.stringify(result); },
  (error) => { document.getElementById("result").textContent = "failed: " + error.message; },
);
"""


def storefront_page(config: dict) -> bytes:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another storefront</title></head>
<body><h1>Another storefront</h1><output id="result"></output>
<script type="application/json" id="config">{html.escape(json.dumps(config), quote=False)}</script>
<script>{SCRIPT}</script></body></html>""".encode()


@pytest.fixture
def storefront():
    """``storefront(config)`` serves the page on STOREFRONT (another origin)."""
    servers = []

    def serve(config: dict) -> str:
        body = storefront_page(config)

        class Page(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", STOREFRONT_PORT), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"{STOREFRONT}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_origin_places_an_order_with_fetch_and_cors(
    make_demo_shop,  # noqa: F811 (the fixture imported above)
    storefront,
    page,
    dbsession,
):
    shop = make_demo_shop(**{"mercato.cors.origins": STOREFRONT})
    config = {
        "shop": shop.url,
        "stripe": shop.localstripe.url,
        "publishable_key": PUBLISHABLE_KEY,
        "card": CARD_3DS,
    }
    page.goto(storefront(config))
    page.wait_for_function("document.getElementById('result').textContent !== ''", timeout=30_000)
    result = page.locator("#result").text_content()
    assert not result.startswith("failed"), result
    bought = json.loads(result)
    (order,) = all_orders(dbsession)
    assert bought == {"number": order.number, "status": "paid", "placed": 202}
    assert order.status == "paid" and order.email == "ada@example.com"


def test_a_page_on_an_origin_not_listed_cannot_read_the_api(
    make_demo_shop,  # noqa: F811 (the fixture imported above)
    storefront,
    page,
    console_errors,
    dbsession,
):
    shop = make_demo_shop(**{"mercato.cors.origins": "http://127.0.0.1:18299"})
    config = {
        "shop": shop.url,
        "stripe": shop.localstripe.url,
        "publishable_key": PUBLISHABLE_KEY,
        "card": CARD_3DS,
    }
    page.goto(storefront(config))
    page.wait_for_function("document.getElementById('result').textContent !== ''", timeout=30_000)
    assert page.locator("#result").text_content() == "failed: Failed to fetch"
    assert all_orders(dbsession) == []
    # Chromium says why in the console: the CORS policy blocked the answer.
    assert any("CORS policy" in message for message in console_errors)
    console_errors.clear()
