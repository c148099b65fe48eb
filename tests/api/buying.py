"""A shopper who checks out through the JSON API only (cart, address, shipping method,
card through localstripe), for shops with the stand-in shipping and tax plugin."""

from mercato.testing import csrf_token
from tests.checkout.shopping import card_payment_method

TAXED_PLUGIN = "tests.api.shipping_tax_plugin"

PARIS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
}
NEW_YORK = {
    "name": "Grace Hopper",
    "line1": "1 Liberty Street",
    "postal_code": "10006",
    "city": "New York",
    "country": "US",
    "region": "NY",
}


class ApiShopper:
    def __init__(self, app, localstripe):
        self.app = app
        self.localstripe = localstripe
        self.token = csrf_token(app)

    def put(self, url: str, body: dict, status=200):
        return self.app.put_json(url, body, headers={"X-CSRF-Token": self.token}, status=status)

    def post(self, url: str, body: dict, status=200):
        return self.app.post_json(url, body, headers={"X-CSRF-Token": self.token}, status=status)

    def add(self, sku: str, quantity: int = 1) -> None:
        self.post("/api/cart/lines", {"sku": sku, "quantity": quantity}, status=(200, 201))

    def address(self, address: dict = PARIS, status=200, **extra):
        body = {"email": "ada@example.com", "shipping_address": address, **extra}
        return self.put("/api/checkout/address", body, status=status)

    def choose(self, code: str, status=200):
        return self.put("/api/checkout/shipping", {"code": code}, status=status)

    def pay(self, status=201):
        total = self.app.get("/api/checkout").json["total"]["amount"]
        details = {"payment_method": card_payment_method(self.localstripe.client())}
        body = {"method": "stripe_card", "details": details, "expected_total": total}
        return self.post("/api/checkout/orders", body, status=status)

    def buy(self, lines: dict[str, int], address: dict = PARIS, method="std", **extra) -> dict:
        """The placed order's JSON."""
        for sku, quantity in lines.items():
            self.add(sku, quantity)
        self.address(address, **extra)
        self.choose(method)
        return self.pay().json["order"]
