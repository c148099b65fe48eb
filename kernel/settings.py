"""Kernel settings: ini values, overridden by the environment where it makes sense.

One table says, for every kernel setting, its ini key, the environment variable that
overrides it (secrets and server URLs, so that they never need to live in a file), how
to read it and its default. Plugins declare their own settings with a colander schema
(see ``mercato.plugins``).
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyramid.settings import asbool, aslist

from .exceptions import ConfigurationError


def plugin_list(value: Any) -> list[str]:
    return aslist(value.replace(",", " ")) if isinstance(value, str) else list(value)


def one_of(*choices: str) -> Callable[[Any], str]:
    """Read a setting that must be one of ``choices`` (named so in the error message)."""

    def choice(value: Any) -> str:
        value = str(value).strip()
        if value not in choices:
            raise ValueError(value)
        return value

    choice.__name__ = " or ".join(choices)
    return choice


@dataclass(frozen=True)
class Setting:
    key: str
    env: str | None
    coerce: Callable[[Any], Any]
    default: Any
    required: bool = False
    secret: bool = False


KERNEL_SETTINGS = [
    Setting("sqlalchemy.url", "DATABASE_URL", str, None, required=True, secret=True),
    # Optional read replica for reads that may be a little stale (catalog, search).
    Setting("sqlalchemy.read_url", "DATABASE_READ_URL", str, None, secret=True),
    Setting("sqlalchemy.pool_size", "DATABASE_POOL_SIZE", int, 10),
    Setting("sqlalchemy.max_overflow", None, int, 10),
    Setting("sqlalchemy.pool_timeout", None, float, 10.0),
    Setting("sqlalchemy.statement_timeout_ms", None, int, 15_000),
    Setting("sqlalchemy.connect_timeout", None, int, 5),
    # Test every connection as it leaves the pool (a round trip per request). Off by
    # default: a connection found dead is replaced and the request retried instead.
    Setting("sqlalchemy.pool_pre_ping", None, asbool, False),
    Setting("redis.url", "REDIS_URL", str, None, required=True, secret=True),
    Setting("redis.socket_timeout", None, float, 2.0),
    Setting("mercato.plugins", "MERCATO_PLUGINS", plugin_list, []),
    Setting("mercato.secret", "MERCATO_SECRET", str, None, required=True, secret=True),
    Setting("mercato.shop_name", "MERCATO_SHOP_NAME", str, "Mercato"),
    Setting("mercato.currency", "MERCATO_CURRENCY", str.upper, "EUR"),
    Setting("mercato.locale", "MERCATO_LOCALE", str, "en_US"),
    # A folder whose templates take precedence over every plugin's: the store
    # owner's way to restyle a page without forking a plugin.
    Setting("mercato.templates_dir", "MERCATO_TEMPLATES_DIR", str, None),
    Setting("mercato.debug", None, asbool, False),
    Setting("retry.attempts", None, int, 3),
    # The shop's address as shoppers reach it; links in emails are built from it, never
    # from a request's Host header (which a client can forge).
    Setting("mercato.public_url", "MERCATO_PUBLIC_URL", str, None),
    Setting("mercato.require_https", None, asbool, False),
    Setting("mercato.hsts_max_age", None, int, 365 * 24 * 3600),
    Setting("mercato.session.cookie_secure", None, str, "auto"),
    # Seconds a shared page (product pages) may stay in the page cache when nothing
    # invalidates it; 0 turns the cache off (mercato.ops.pagecache).
    Setting("mercato.page_cache.max_age", None, int, 300),
    # The checkout unit: take the money right after the order commits ("checkout") or
    # hold it until the order ships ("fulfilment"); order numbers read "M-000123".
    Setting("mercato.capture", None, one_of("checkout", "fulfilment"), "checkout"),
    Setting("mercato.order_number_prefix", None, str, "M-"),
    # mercato reconcile: how old an authorization without an order must be before it is
    # voided (longer than any checkout request), and how long an order may wait for the
    # shopper to finish 3-D Secure before it is cancelled.
    Setting("mercato.payment_grace_seconds", None, int, 900),
    Setting("mercato.payment_action_seconds", None, int, 3600),
    Setting("mercato.log_format", "MERCATO_LOG_FORMAT", str, "text"),
    Setting("mercato.metrics.token", "METRICS_TOKEN", str, None, secret=True),
    Setting("mercato.metrics.allowed_networks", None, str, "127.0.0.0/8 ::1/128"),
    Setting("mercato.sentry.dsn", "SENTRY_DSN", str, None, secret=True),
    Setting("mercato.sentry.environment", "SENTRY_ENVIRONMENT", str, "production"),
]

SECRET_KEYS = {s.key for s in KERNEL_SETTINGS if s.secret}


def resolve_settings(settings: dict, environ: os._Environ | dict | None = None) -> dict:
    """Return a copy of ``settings`` with environment overrides and typed values."""
    environ = os.environ if environ is None else environ
    resolved = dict(settings)
    for setting in KERNEL_SETTINGS:
        resolved[setting.key] = _resolve(setting, settings, environ)
    return resolved


def enabled_plugins(settings: dict, environ: os._Environ | dict | None = None) -> list[str]:
    """``mercato.plugins`` alone, the other settings unchecked: enough to load the plugins
    for what needs no secret (``mercato --help``, ``mercato plugins``)."""
    (setting,) = (s for s in KERNEL_SETTINGS if s.key == "mercato.plugins")
    return _resolve(setting, settings, os.environ if environ is None else environ)


def _resolve(setting: Setting, settings: dict, environ) -> Any:
    value = settings.get(setting.key)
    if setting.env and environ.get(setting.env):
        value = environ[setting.env]
    if value in (None, ""):
        if setting.required:
            hint = f" or the {setting.env} environment variable" if setting.env else ""
            raise ConfigurationError(
                f"mercato: setting {setting.key} is missing: set it in the ini file{hint}"
            )
        return setting.default
    try:
        return setting.coerce(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"mercato: setting {setting.key} = {value!r} is not valid: "
            f"expected {getattr(setting.coerce, '__name__', 'a different value')}"
        ) from None


def mask(key: str, value: Any, secret_keys=frozenset()) -> Any:
    """Hide a secret's value for display (CLI, admin), keeping the fact that it is set."""
    if value in (None, ""):
        return value
    secret = key in SECRET_KEYS or key in secret_keys or _looks_secret(key)
    return "********" if secret else value


def _looks_secret(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return any(word in last for word in ("secret", "password", "key", "token", "url"))
