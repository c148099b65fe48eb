"""The payments_stripe plugin's hook implementations (its entry point).

Payment hooks also run outside requests (reconcile, the admin): the Stripe client is
found on the ``registry`` they receive.
"""

from urllib.parse import urlsplit

from mercato import PaymentMethod, hookimpl

from . import openapi
from .embedded import WEBHOOK_PATH, EmbeddedStripe
from .gateway import METHOD, PROVIDER, Gateway, make_client
from .schemas import Settings

SETTINGS_KEY = "mercato.payments_stripe"


def gateway(registry) -> Gateway:
    return registry.stripe_gateway


@hookimpl
def mercato_settings_schema():
    return Settings()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def allow_stripe_js(config, settings: dict) -> None:
    """Let the browser load Stripe.js, open its frames (card field, 3-D Secure) and reach
    Stripe's API, and nothing else: the kernel's CSP forbids every other origin."""
    js, api = _origin(settings["js_url"]), _origin(settings["api_base"])
    config.add_csp_source("script-src", js)
    config.add_csp_source("frame-src", js)
    config.add_csp_source("connect-src", api)
    if urlsplit(settings["js_url"]).hostname == "js.stripe.com":
        config.add_csp_source("frame-src", "https://hooks.stripe.com")  # 3-D Secure pages


@hookimpl
def mercato_configure(config):
    settings = config.registry.settings[SETTINGS_KEY]
    config.registry.stripe_gateway = Gateway(make_client(settings))
    allow_stripe_js(config, settings)
    config.add_jinja2_search_path("mercato_payments_stripe:templates", name=".jinja2")
    config.add_static_view(
        "static/payments_stripe", "mercato_payments_stripe:static", cache_max_age=3600
    )
    config.add_route("stripe_webhook", WEBHOOK_PATH)
    config.add_route("stripe_return", "/stripe/return")
    config.add_route("stripe_api_return", "/api/stripe/return")
    config.scan("mercato_payments_stripe.views")


@hookimpl
def mercato_payment_methods(request):
    settings = request.registry.settings[SETTINGS_KEY]
    return [
        PaymentMethod(
            code=METHOD,
            label=settings["label"],
            provider=PROVIDER,
            template="payments_stripe/card.jinja2",
            action_template="payments_stripe/authenticate.jinja2",
            options={"publishable_key": settings["publishable_key"], "js_url": settings["js_url"]},
        )
    ]


@hookimpl
def mercato_authorize_payment(order, method, details, idempotency_key, registry):
    if method != METHOD:
        return None
    return gateway(registry).authorize(order, details, idempotency_key)


@hookimpl
def mercato_capture_payment(payment, amount, idempotency_key, registry):
    if payment.provider != PROVIDER:
        return None
    return gateway(registry).capture(payment, amount, idempotency_key)


@hookimpl
def mercato_void_payment(payment, idempotency_key, registry):
    if payment.provider != PROVIDER:
        return None
    return gateway(registry).void(payment, idempotency_key)


@hookimpl
def mercato_refund_payment(payment, amount, idempotency_key, registry):
    if payment.provider != PROVIDER:
        return None
    return gateway(registry).refund(payment, amount, idempotency_key)


@hookimpl
def mercato_openapi():
    return openapi.fragment()


@hookimpl
def mercato_demo_servers(data_dir):
    # localstripe keeps its store in memory: nothing goes in data_dir.
    return EmbeddedStripe()
