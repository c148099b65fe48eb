"""A tax API of the tests' own, served on loopback, and a shop that asks it.

The stand-in service speaks the API of ``mercato_tax_service.client`` and computes real
answers from each question: in the United States a sales tax by state, added to the
prices; anywhere else a VAT of 20 % (5 % on the ``reduced`` class) included in them.
"""

import json
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pyramid.request import Request

from mercato import PricingContext
from mercato_catalog.models import Product, Variant

# (sku, price in cents, tax class)
GOODS = [("TEE", 2400, "standard"), ("MUG", 1250, "reduced")]
STATE_RATES = {"NY": Decimal("0.08875"), "CA": Decimal("0.0725")}
VAT_RATES = {"standard": Decimal("0.20"), "reduced": Decimal("0.05")}


def cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def compute_taxes(question: dict) -> dict:
    """What the stand-in service answers: one tax per line and one on the shipping."""
    destination = question["destination"]
    bases = [(line["sku"], line["amount"], line["tax_class"]) for line in question["lines"]]
    if question["shipping"]:
        bases.append(("shipping", question["shipping"]["amount"], "standard"))
    taxes = []
    for target, amount, tax_class in bases:
        if destination["country"] == "US":
            rate = STATE_RATES[destination["region"]]
            name, included, tax = f"Sales tax {destination['region']}", False, amount * rate
        else:
            rate = VAT_RATES[tax_class]
            name, included, tax = "VAT", True, amount * rate / (1 + rate)
        taxes.append(
            {
                "target": target,
                "name": name,
                "rate": str(rate),
                "amount": cents(tax),
                "included": included,
            }
        )
    return {"taxes": taxes}


class TaxAPI:
    """The service. ``key``: the API key it expects; ``questions``: every (headers,
    body) it was sent; ``reply``: a function of the question giving (HTTP status, body
    bytes), by default the computed answer; ``delay``: seconds to wait before answering."""

    key = "test-tax-key-123"
    answer = staticmethod(compute_taxes)

    def __init__(self):
        self.questions: list[tuple[dict, dict]] = []
        self.reply = lambda question: (200, json.dumps(compute_taxes(question)).encode())
        self.delay = 0.0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.questions.append((dict(self.headers), body))
                time.sleep(api.delay)
                if self.headers["Authorization"] == f"Bearer {api.key}":
                    status, answer = api.reply(body)
                else:
                    status, answer = 401, b'{"error": "unknown API key"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/tax"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Down: the port refuses connections from now on."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def tax_api():
    api = TaxAPI()
    yield api
    api.stop()


@pytest.fixture
def goods(dbsession):
    """The catalog's products: TEE at 24.00 (standard rate), MUG at 12.50 (reduced)."""
    for sku, price, tax_class in GOODS:
        product = Product(slug=sku.lower(), name=sku.title(), active=True, tax_class=tax_class)
        product.variants.append(
            Variant(sku=sku, price_amount=price, price_currency="EUR", stock=10)
        )
        dbsession.add(product)
    dbsession.commit()


@pytest.fixture
def make_taxed_app(make_test_app, tax_api, goods):
    """``make_taxed_app(plugins="catalog cart tax_service", **settings)``: a shop whose
    tax comes from ``tax_api``."""

    def make(plugins="catalog cart tax_service", **settings):
        return make_test_app(
            plugins=plugins.split(),
            **{
                "mercato.tax_service.url": tax_api.url,
                "mercato.tax_service.api_key": tax_api.key,
                **settings,
            },
        )

    return make


@pytest.fixture
def shopper_context(dbsession):
    """``shopper_context(app, destination, **fields)``: a ``PricingContext`` for a new
    request of one shopper to ``app``."""

    def make(app, destination, **fields) -> PricingContext:
        request = Request.blank("/")
        request.registry = app.app.registry
        return PricingContext(
            currency="EUR", dbsession=dbsession, request=request, destination=destination, **fields
        )

    return make
