"""Optional error reports to Sentry, switched on by the ``SENTRY_DSN`` environment variable.

sentry-sdk is an optional extra (``pip install 'mercato[sentry]'``) imported only when
a DSN is set. An event carries the request id as the tag ``request_id`` — the reference
the shopper saw on the error page — and never what may hold a secret: no request
body, query string, cookies or headers beyond a harmless few, no local variables, no
personal data.
"""

from pyramid.events import NewRequest

from mercato.errors import request_id
from mercato.exceptions import ConfigurationError

KEPT_HEADERS = {"accept", "content-type", "host", "user-agent"}


def scrub(event, hint):
    request = event.get("request")
    if request:
        for key in ("data", "query_string", "cookies", "env"):
            request.pop(key, None)
        headers = request.get("headers") or {}
        request["headers"] = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    return event


def _tag_request(event):
    import sentry_sdk

    sentry_sdk.set_tag("request_id", request_id(event.request))


def includeme(config):
    settings = config.registry.settings
    dsn = settings["mercato.sentry.dsn"]
    if not dsn:
        return
    try:
        import sentry_sdk
        from sentry_sdk.integrations.pyramid import PyramidIntegration
    except ImportError:
        raise ConfigurationError(
            "mercato: SENTRY_DSN is set but sentry-sdk is not installed: "
            "pip install 'mercato[sentry]' or unset SENTRY_DSN"
        ) from None
    sentry_sdk.init(
        dsn=dsn,
        environment=settings["mercato.sentry.environment"],
        integrations=[PyramidIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub,
    )
    config.add_subscriber(_tag_request, NewRequest)
