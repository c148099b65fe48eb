"""Server-side sessions in Redis (pyramid_session_redis) and CSRF on every unsafe request.

The cookie carries only a signed id; the session data lives in Redis as JSON (never
pickle: a value read back from Redis must not be able to run code).
"""

import json

from pyramid.csrf import get_csrf_token
from pyramid.view import view_config
from pyramid_session_redis import RedisSessionFactory


def _serialize(data: dict) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


@view_config(route_name="api_csrf", renderer="json", request_method="GET")
def csrf_for_api_clients(request):
    """Headless and mobile clients read the token here and send it as X-CSRF-Token."""
    request.response.cache_control.no_store = True
    return {"csrf_token": get_csrf_token(request)}


def includeme(config):
    settings = config.registry.settings
    factory = RedisSessionFactory(
        secret=settings["mercato.secret"],
        timeout=settings.get("mercato.session_timeout", 3600 * 24 * 14),
        cookie_name="mercato_session",
        cookie_httponly=True,
        cookie_samesite="Lax",
        cookie_secure=settings.get("mercato.cookie_secure", False),
        redis_client_callable=lambda request, **_kw: request.registry.redis,
        serialize=_serialize,
        deserialize=json.loads,
    )
    config.set_session_factory(factory)
    # Every POST/PUT/PATCH/DELETE must carry the session's token, as the form field
    # ``csrf_token`` or the ``X-CSRF-Token`` header; a view exempts itself with
    # ``require_csrf=False`` only when it authenticates otherwise (signed webhooks).
    config.set_default_csrf_options(require_csrf=True, header="X-CSRF-Token")
    config.add_route("api_csrf", "/api/session/csrf")
    config.scan(__name__)
