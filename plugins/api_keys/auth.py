"""A key at the HTTP edge: read from ``Authorization: Bearer`` on ``/api/`` paths only,
turned into the request's credentials, refused with 401 when it does not work.

The tween runs inside the request's transaction, before any view: a bad key gets 401
even on a route anybody may read (it must not be mistaken for an anonymous client
that forgot nothing), every request made with a key counts against the key's rate
limit (``mercato.ratelimit.api_key``), and the session cookie is dropped — a key
request has no cookie session, which is why it needs no CSRF token.
"""

from pyramid.tweens import EXCVIEW

from mercato import Credentials, error_response, rate_limit

from .scopes import permissions_for
from .services import find_key, note_use

# Every request made with one key; ``mercato.ratelimit.api_key`` changes it.
DEFAULT_LIMIT = "600/minute"
CHALLENGE = 'Bearer realm="api", error="invalid_token"'


def presented_secret(request) -> str | None:
    """The bearer secret sent to an ``/api/`` path; None elsewhere or without one."""
    if not request.environ.get("PATH_INFO", "").startswith("/api/"):
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return secret.strip()


def api_key(request):
    """The working key the request presents (``request.api_key``), or None."""
    secret = presented_secret(request)
    return None if secret is None else find_key(request.dbsession, secret)


def credentials(request) -> Credentials | None:
    key = request.api_key
    if key is None:
        return None
    granted = permissions_for(key.scopes, request.method)
    return Credentials(user=key.owner, permissions=granted, client=f"api_key:{key.id}")


def api_key_tween_factory(handler, registry):
    def api_key_tween(request):
        if presented_secret(request) is None:
            return handler(request)
        request.environ.pop("HTTP_COOKIE", None)
        key = request.api_key
        if key is None:
            return error_response(
                request,
                401,
                "This API key does not work: it is unknown or was revoked.",
                headers={"WWW-Authenticate": CHALLENGE},
            )
        note_use(registry.db_engine, key)
        rate_limit(request, "api_key", default=DEFAULT_LIMIT)  # keyed on the key
        return handler(request)

    return api_key_tween


def includeme(config):
    config.add_request_method(api_key, "api_key", reify=True)
    # Inside the transaction (the key is read with request.dbsession), under the error
    # views (a 429 becomes JSON with Retry-After).
    config.add_tween("mercato_api_keys.auth.api_key_tween_factory", under=EXCVIEW)
