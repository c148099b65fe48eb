"""The shop exactly as ``mercato demo`` composes it: the plugins that
``config/development.ini`` enables (the first-party ones, no stand-in plugin), real
PostgreSQL and Redis, localstripe through the real SDK, an aiosmtpd server for email,
served by waitress on loopback so that localstripe's webhooks reach it.

Shoppers and staff use the storefront's and the admin's own forms and JSON API; the
tests look at the results in the database, in Redis, in localstripe and in the mailbox.
"""

import configparser
import json
import re
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select
from webtest import TestApp
from webtest.http import StopableWSGIServer

from mercato import make_app
from mercato.orders import models as m
from mercato.testing import PASSWORD, base_settings, login
from mercato_catalog.models import Product, Variant
from mercato_payments_stripe.embedded import PUBLISHABLE_KEY
from mercato_shipping.sample import add_sample_zones
from mercato_tax import add_sample_rates
from tests.checkout.shopping import ADDRESS, CARD_3DS, CARD_DECLINED, CARD_OK  # noqa: F401
from tests.checkout.shopping import Shopper as StandInShopper

REPO = Path(__file__).resolve().parents[2]
# The products every composed-shop test starts with: (slug, name, sku, price, stock).
PRODUCTS = [
    ("tee", "Organic Tee", "TEE", 2400, 10),
    ("mug", "Blue Mug", "MUG", 1250, 10),
]


def demo_plugins() -> list[str]:
    """The plugins ``mercato demo`` runs: those of config/development.ini."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "config" / "development.ini")
    plugins = parser["app:main"]["mercato.plugins"].split()
    assert plugins, "config/development.ini enables no plugin"
    return plugins


# The demo's shipping method for each country the tests ship to (the default ADDRESS is
# in France).
SHIPPING_METHODS = {"DE": "de-standard", "FR": "eu-standard", "US": "us-international"}


@pytest.fixture
def shop_catalog(dbsession):
    """The products above, and the demo's shipping zones and tax rates."""
    add_sample_zones(dbsession, "EUR")
    add_sample_rates(dbsession)
    for slug, name, sku, price, stock in PRODUCTS:
        product = Product(slug=slug, name=name, description=f"A {name.lower()}", active=True)
        product.variants.append(
            Variant(sku=sku, name="", price_amount=price, price_currency="EUR", stock=stock)
        )
        dbsession.add(product)
    dbsession.commit()


@pytest.fixture
def make_demo_shop(
    migrated_database, redis_url, stripe_settings, localstripe, smtp_server, shop_catalog
):
    """``make_demo_shop(**settings)`` → the composed shop served on loopback, as a
    ``DemoShop``; ``settings`` override the defaults (another Redis, a timeout …)."""
    started = []

    def start(**overrides) -> DemoShop:
        settings = base_settings(
            **{
                "sqlalchemy.url": migrated_database,
                "redis.url": redis_url,
                "mercato.plugins": " ".join(demo_plugins()),
                "mercato.notifications.transport": "smtp",
                "mercato.notifications.host": "127.0.0.1",
                "mercato.notifications.port": str(smtp_server.port),
                **stripe_settings,
                **overrides,
            }
        )
        app = make_app(settings, environ={})
        server = StopableWSGIServer.create(app, host="127.0.0.1", threads=4)
        started.append((app, server))
        localstripe.send_webhooks_to(f"{server.application_url}stripe/webhook")
        url = server.application_url.rstrip("/")
        return DemoShop(app, url, localstripe, smtp_server, settings)

    yield start
    for app, server in started:
        server.shutdown()
        app.registry.db_engine.dispose()
        app.registry.redis.close()


@pytest.fixture
def demo_shop(make_demo_shop):
    """The composed shop with the test run's Redis."""
    return make_demo_shop()


class DemoShop:
    def __init__(self, app, url: str, localstripe, smtp_server, settings: dict):
        self.app = app
        self.url = url
        self.localstripe = localstripe
        self.smtp = smtp_server
        self.settings = settings  # as given to make_app: what an ini file would hold

    def ini_file(self, folder: Path) -> str:
        """This shop's settings as a ``mercato -c`` ini file, for its commands."""
        path = folder / "shop.ini"
        lines = [f"{key} = {value}" for key, value in self.settings.items()]
        path.write_text("\n".join(["[app:main]", "use = egg:mercato", *lines, ""]))
        return str(path)

    def browser(self) -> "Shopper":
        """A new shopper: a cookie jar of its own on the same app."""
        return Shopper(TestApp(self.app, extra_environ={"REMOTE_ADDR": "127.0.0.1"}), self)


class Shopper(StandInShopper):
    """One browser on the storefront: its cookies, its cart, its checkout. The address,
    card and payment steps are the checkout tests' (the same storefront forms); the
    cart is the cart plugin's own."""

    def __init__(self, app: TestApp, shop: DemoShop):
        super().__init__(app, shop.localstripe)
        self.shop = shop

    def log_in(self, email: str, password: str = PASSWORD):
        return login(self.app, email, password)

    def add(self, sku: str, quantity: int = 1):
        return self.app.post(
            "/cart/add", {"sku": sku, "quantity": quantity, "csrf_token": self.token}, status=303
        )

    def cart(self) -> dict[str, int]:
        """The cart as the JSON API shows it: ``{sku: quantity}``."""
        lines = self.app.get("/api/cart").json["lines"]
        return {line["sku"]: line["quantity"] for line in lines}

    def address(self, method: str | None = None, **changes):
        """The address step, then the shipping step: ``method``, or the demo's method
        for the address's country; ``method=False`` stops after the address."""
        done = super().address(**changes)
        if method is not False:
            self.shipping(method or SHIPPING_METHODS[changes.get("country", ADDRESS["country"])])
        return done

    def buy(self, lines: dict[str, int], number: str = CARD_OK, status=303, **address):
        for sku, quantity in lines.items():
            self.add(sku, quantity)
        self.address(**address)
        return self.pay(number, status=status)

    def authenticate(self, page_text: str, success: bool = True):
        """What localstripe's Stripe.js does in the 3-D Secure modal, then the return page."""
        secret = re.search(r'data-client-secret="([^"]+)"', page_text).group(1)
        return_url = re.search(r'data-return-url="([^"]+)"', page_text).group(1)
        pi = secret.split("_secret_")[0]
        request = urllib.request.Request(
            f"{self.shop.localstripe.url}/v1/payment_intents/{pi}/_authenticate"
            f"?success={str(success).lower()}",
            data=json.dumps({"key": PUBLISHABLE_KEY, "client_secret": secret}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            response.read()
        return self.app.get(return_url.replace("&amp;", "&"), status=303)


@pytest.fixture
def demo_shopper(demo_shop) -> Shopper:
    return demo_shop.browser()


@pytest.fixture
def demo_staff(demo_shop, admin_user) -> Shopper:
    """A store admin's browser, logged in (the admin's forms and the staff JSON API)."""
    staff = demo_shop.browser()
    staff.log_in(admin_user.email, admin_user.password)
    return staff


# ---------------------------------------------------------------------------
# Looking at the results
# ---------------------------------------------------------------------------


def stock_of(dbsession, sku: str) -> int:
    dbsession.expire_all()
    return dbsession.scalar(select(Variant.stock).where(Variant.sku == sku))


def all_orders(dbsession) -> list[m.Order]:
    dbsession.expire_all()
    return dbsession.scalars(select(m.Order).order_by(m.Order.id)).all()
