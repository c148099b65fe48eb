"""Mercato: a plugin-based commerce framework on Pyramid and pluggy.

``from mercato import hookimpl`` is all a plugin needs to start; the names below are
the kernel's public API, the only part of the kernel a plugin should import.
"""

import importlib
import os

from pyramid.config import Configurator

from .exceptions import ConfigurationError

# The public API: every name a plugin may import, ``from mercato import Name``, and the
# module that defines it. Resolved on first use (PEP 562), so that importing ``mercato``
# stays cheap and no kernel module has to import another just to re-export it.
# tests/kernel/test_public_api.py fails when a plugin imports anything else of the kernel.
PUBLIC_API: dict[str, str] = {
    # -- the contract: hooks, settings, errors ---------------------------------------
    "ConfigurationError": "mercato.exceptions",
    "hookimpl": "mercato.hookspecs",
    "main": "mercato",
    "make_app": "mercato",
    # -- money and pricing -----------------------------------------------------------
    "Adjustment": "mercato.pricing",
    "Line": "mercato.pricing",
    "Money": "mercato.money",
    "PricedLines": "mercato.pricing",
    "PricingContext": "mercato.pricing",
    "Destination": "mercato.pricing",
    "SHIPPING": "mercato.pricing",
    "ShippingOption": "mercato.pricing",
    "TaxLine": "mercato.pricing",
    "summary_rows": "mercato.pricing",
    "countries": "mercato.places",
    "country_name": "mercato.places",
    "country_options": "mercato.places",
    "region_name": "mercato.places",
    "regions": "mercato.places",
    "SkuDetails": "mercato.pricing",
    "describe_skus": "mercato.pricing",
    "price_lines": "mercato.pricing",
    # -- inventory, cart and checkout ------------------------------------------------
    "CartProblem": "mercato.exceptions",
    "CheckoutError": "mercato.exceptions",
    "OutOfStock": "mercato.exceptions",
    # -- payments --------------------------------------------------------------------
    "PaymentInfo": "mercato.payments",
    "PaymentMethod": "mercato.payments",
    "PaymentResult": "mercato.payments",
    # -- infrastructure every plugin shares: tables, pages, forms --------------------
    "email_field": "mercato.forms",
    "kept_values": "mercato.forms",
    "no_control_characters": "mercato.forms",
    "strip_whitespace": "mercato.forms",
    "text_field": "mercato.forms",
    "validate_form": "mercato.forms",
    "Base": "mercato.db",
    "registry_of": "mercato.db",
    "invalidate_pages": "mercato.ops.pagecache",
    "invalidate_pages_now": "mercato.ops.pagecache",
    "page_key": "mercato.ops.pagecache",
    "render_cached": "mercato.ops.pagecache",
    # -- the admin's menu (mercato_admin_links) --------------------------------------
    "AdminLink": "mercato.hookspecs",
    # -- credentials besides the session cookie (mercato_request_credentials) --------
    "Credentials": "mercato.hookspecs",
    # -- for payment provider plugins (their webhooks and return pages) --------------
    "order_page_url": "mercato.orders.services",
    "payment_updated": "mercato.orders.checkout",
    # -- for the admin plugin --------------------------------------------------------
    "ROLES": "mercato.accounts.models",
    "User": "mercato.accounts.models",
    "EmailTaken": "mercato.accounts.services",
    "create_user": "mercato.accounts.services",
    "erase_user": "mercato.accounts.services",
    "make_reset_token": "mercato.accounts.services",
    "public_route_url": "mercato.accounts.services",
    "set_role": "mercato.accounts.services",
    "minor_digits": "mercato.money",
    "ORDER_STATUSES": "mercato.orders.models",
    "AWAITING_PAYMENT": "mercato.orders.models",
    "AUTHORIZED": "mercato.orders.models",
    "PAID": "mercato.orders.models",
    "FULFILLED": "mercato.orders.models",
    "CANCELLED": "mercato.orders.models",
    "PARTIALLY_REFUNDED": "mercato.orders.models",
    "REFUNDED": "mercato.orders.models",
    "Order": "mercato.orders.models",
    "Refund": "mercato.orders.models",
    "OrderChange": "mercato.orders.models",
    "OrderError": "mercato.orders.services",
    "UNSHIPPED_STATUSES": "mercato.orders.services",
    "RestockError": "mercato.aftersale.services",
    "actor_of": "mercato.orders.services",
    "cancel_order": "mercato.orders.services",
    "capture_order": "mercato.aftersale.services",
    "fulfil_order": "mercato.aftersale.services",
    "refund_order": "mercato.aftersale.services",
    "refund_amount_for": "mercato.orders.services",
    "ship_order_lines": "mercato.aftersale.services",
    "cancel_order_lines": "mercato.aftersale.services",
    "change_order_lines": "mercato.aftersale.changes",
    "balance_due": "mercato.aftersale.balance",
    "amount_owed": "mercato.orders.services",
    "BadChange": "mercato.aftersale.services",
    "refund_made_before": "mercato.aftersale.services",
    "retry_safe_key": "mercato.aftersale.services",
    "change_made_before": "mercato.aftersale.changes",
    "pay_balance": "mercato.aftersale.balance",
    "PARTIALLY_FULFILLED": "mercato.orders.models",
    "OutboxError": "mercato.ops.outbox",
    "enqueue": "mercato.outbox",
    "outbox_counts": "mercato.ops.outbox",
    "outbox_entries": "mercato.ops.outbox",
    "retry_delivery": "mercato.ops.outbox",
    "describe": "mercato.ops.plugins",
    "secret_setting_names": "mercato.ops.plugins",
    "safe_next": "mercato.security",
    "mask": "mercato.settings",
    # -- for the accounts plugin ---------------------------------------------------
    "Address": "mercato.accounts.models",
    "DEFAULT_ROUNDS": "mercato.accounts.passwords",
    "hash_password": "mercato.accounts.passwords",
    "verify_password": "mercato.accounts.passwords",
    "find_user": "mercato.accounts.services",
    "normalize_email": "mercato.accounts.services",
    "set_password": "mercato.accounts.services",
    "user_for_reset_token": "mercato.accounts.services",
    "forget_user": "mercato.security",
    "remember_user": "mercato.security",
    "rate_limit": "mercato.ops.ratelimit",
    "rate_limit_check": "mercato.ops.ratelimit",
    "rate_limit_hit": "mercato.ops.ratelimit",
    "make_engine": "mercato.db",
    # -- for the cart and catalog plugins ------------------------------------------
    "RedisDataManager": "mercato.datamanagers.redis",
    "redis_writes": "mercato.datamanagers.redis",
    "error_response": "mercato.errors",
    "wants_json": "mercato.errors",
    # -- for the storefront plugin ---------------------------------------------------
    "can_view_order": "mercato.security",
    "checkout_state": "mercato.orders.checkout",
    "payment_methods": "mercato.orders.checkout",
    "place_order": "mercato.orders.checkout",
    "review_cart": "mercato.orders.checkout",
    "set_checkout_address": "mercato.orders.checkout",
    "set_shipping_method": "mercato.orders.checkout",
    "storefront_url": "mercato.orders.services",
    "order_by_number": "mercato.orders.services",
    "order_by_token": "mercato.orders.services",
    "orders_of_customer": "mercato.orders.services",
    # -- capability checks (a default plugin may be switched off: no:NAME) -----------
    "admin_available": "mercato.capabilities",
    "has_route": "mercato.capabilities",
    "provide_admin": "mercato.capabilities",
}

__all__ = sorted(PUBLIC_API)


def __getattr__(name: str):
    module = PUBLIC_API.get(name)
    if module is None or module == __name__:
        raise AttributeError(f"module 'mercato' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups never come here
    return value


def configure(settings: dict, environ=None) -> Configurator:
    """Build the configured (and committed) Pyramid configurator for ``settings``.

    Raises ``ConfigurationError`` with one line naming what to fix.
    """
    from . import plugins
    from .settings import resolve_settings

    environ = os.environ if environ is None else environ
    settings = resolve_settings(settings, environ)
    pm = plugins.make_plugin_manager(plugins.with_defaults(settings["mercato.plugins"]))
    settings.update(plugins.plugin_settings(pm, settings, environ))
    settings.setdefault("tm.commit_veto", "pyramid_tm.default_commit_veto")

    config = Configurator(settings=settings)
    config.registry.plugin_manager = pm
    config.registry.hooks = pm.hook
    config.add_request_method(lambda request: request.registry.hooks, "hooks", reify=True)

    # One transaction per request, retried on serialization failures and deadlocks
    # (3 attempts): every external call inside an attempt is idempotent, so a retry
    # can only repeat work, never double it.
    config.include("pyramid_retry")
    config.include("pyramid_tm")
    config.include(".db")  # request.dbsession, joined to that transaction
    config.include(".redis_client")  # request.redis
    config.include(".sessions")  # Redis sessions + CSRF on every unsafe request
    config.include(".security")  # request.user, the security policy
    config.include(".templating")  # Jinja2, slots, money filter
    config.include(".views")  # the home route every storefront page links to
    config.include(".errors")  # error pages that leak nothing
    # The HTTP edge (page cache, rate limits, security headers, NUL refusal) is the
    # essential ops plugin's, configured before every other plugin (mercato.ops.hooks).
    config.commit()

    # Plugins come after the kernel is committed (Kinto's way): they can rely on every
    # kernel directive and cannot override the kernel's views by accident.
    pm.hook.mercato_configure(config=config)
    config.commit()
    from .templating import add_owner_templates

    add_owner_templates(config)
    config.commit()
    return config


def make_app(settings: dict, environ=None):
    """The WSGI app for ``settings``; raises ``ConfigurationError`` when it cannot start."""
    return configure(settings, environ).make_wsgi_app()


def main(global_config, **settings):
    """Paste app factory used by ``pserve config/development.ini``."""
    try:
        return make_app(settings)
    except ConfigurationError as exc:
        # One clear line instead of a traceback: the message says what to fix.
        raise SystemExit(str(exc)) from None
