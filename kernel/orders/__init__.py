"""Orders and the checkout unit: the kernel's storefront checkout, order pages and API."""

from ..exceptions import ConfigurationError

CAPTURE_CHOICES = ("checkout", "fulfilment")


def order_settings(settings: dict) -> dict:
    """The kernel's order settings, read and checked once.

    ``mercato.capture``: ``checkout`` (take the money right after the order commits) or
    ``fulfilment`` (hold it until the order ships). ``mercato.order_number_prefix``.
    ``mercato.payment_grace_seconds``: how old an authorization without an order must be
    before ``mercato reconcile`` voids it (longer than any checkout request takes).
    ``mercato.payment_action_seconds``: how long an order may wait for the shopper to
    finish 3-D Secure before reconcile cancels it.
    """
    capture = str(settings.get("mercato.capture", "checkout")).strip()
    if capture not in CAPTURE_CHOICES:
        raise ConfigurationError(
            f"mercato: setting mercato.capture = {capture!r} is not valid: "
            f"use {' or '.join(CAPTURE_CHOICES)}"
        )
    numbers = {}
    for key, default in (("payment_grace_seconds", 900), ("payment_action_seconds", 3600)):
        raw = settings.get(f"mercato.{key}", default)
        try:
            numbers[key] = int(raw)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"mercato: setting mercato.{key} = {raw!r} is not valid: expected seconds"
            ) from None
    return {
        "capture": capture,
        "number_prefix": str(settings.get("mercato.order_number_prefix", "M-")),
        **numbers,
    }


def includeme(config):
    settings = config.registry.settings
    settings["mercato.orders"] = order_settings(settings)
    config.add_route("checkout", "/checkout")
    config.add_route("checkout_address", "/checkout/address")
    config.add_route("checkout_review", "/checkout/review")
    config.add_route("checkout_payment", "/checkout/payment")
    config.add_route("checkout_confirmation", "/checkout/done/{token}")
    config.add_route("order_link", "/orders/{token}")
    config.add_route("orders_history", "/account/orders")
    config.add_route("orders_history_order", "/account/orders/{number}")
    config.add_route("api_checkout", "/api/checkout")
    config.add_route("api_checkout_address", "/api/checkout/address")
    config.add_route("api_checkout_orders", "/api/checkout/orders")
    config.add_route("api_order_link", "/api/orders/{token}")
    config.add_route("api_orders_history", "/api/account/orders")
    config.add_route("api_order_refunds", "/api/staff/orders/{number}/refunds")
    config.add_route("api_order_fulfilment", "/api/staff/orders/{number}/fulfilment")
    config.add_route("api_order_cancellation", "/api/staff/orders/{number}/cancellation")
    config.scan(".views")
