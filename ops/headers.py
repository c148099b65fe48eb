"""Security headers on every response, and HTTPS enforcement.

* ``Content-Security-Policy``: scripts, styles, images, fonts, connections and frames
  from our own origin only; no inline script or style attribute, no ``eval``, no
  plugins (``object-src 'none'``), forms post only to us, and no other site may frame
  our pages (``frame-ancestors 'none'``). A plugin that needs another origin (a
  payment provider's script and frames) adds it in ``mercato_configure``::

      config.add_csp_source("script-src", "https://js.pay.example")
      config.add_csp_source("frame-src", "https://js.pay.example")

  and the store owner adds sources with ``mercato.csp.<directive> = origin ...``.
* ``Strict-Transport-Security`` on HTTPS responses (``mercato.hsts_max_age`` seconds,
  a year by default; ``0`` turns it off).
* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: strict-origin-when-cross-origin``
  (a password-reset link never leaks to another site), ``X-Frame-Options: DENY`` for
  browsers that predate ``frame-ancestors``.
* ``mercato.require_https = true`` (production): a plain-HTTP request is redirected to
  HTTPS (an unsafe one is refused), except the health checks a load balancer makes.

A view that sets one of these headers itself keeps its own value.

CORS, for a storefront or app served from another origin: ``mercato.cors.origins =
https://shop.example https://app.example`` lists the origins whose pages may call
``/api/`` with ``fetch``, cookies included. Their preflight (``OPTIONS``) is answered
here with the methods and headers the API reads (``Content-Type``, ``Authorization``,
``Idempotency-Key``, ``X-CSRF-Token``); their requests get
``Access-Control-Allow-Origin: <that origin>`` and ``…-Allow-Credentials: true``.
Any other origin gets no CORS header (its preflight a 403), so the browser keeps the
answer from its page. ``*`` is refused: the API answers with credentials. Every
``/api/`` answer says ``Vary: Origin``. Over HTTPS these origins are also trusted by
the CSRF check (``pyramid.csrf_trusted_origins``): a cookie session from a listed
origin still sends the session's token as ``X-CSRF-Token``, read from
``GET /api/session/csrf`` (docs/api-client.md).
"""

from urllib.parse import urlsplit

from pyramid.httpexceptions import HTTPMovedPermanently
from pyramid.response import Response
from pyramid.settings import aslist

from mercato.errors import error_response
from mercato.exceptions import ConfigurationError

BASE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

HEALTH_PATHS = ("/healthz", "/readyz")


def csp_policy(registry) -> dict[str, list[str]]:
    policy = getattr(registry, "mercato_csp", None)
    if policy is None:
        policy = {name: list(sources) for name, sources in BASE_POLICY.items()}
        registry.mercato_csp = policy
    return policy


def add_csp_source(config, directive: str, source: str) -> None:
    """Config directive: allow ``source`` (an origin such as ``https://js.pay.example``)
    for the CSP ``directive``. ``'unsafe-inline'`` and ``'unsafe-eval'`` are refused:
    they would undo what the policy is for."""
    _allow(config.registry, directive, source)


def _allow(registry, directive: str, source: str) -> None:
    if directive not in BASE_POLICY or directive == "frame-ancestors":
        raise ConfigurationError(
            f"mercato: CSP directive {directive!r} cannot be extended: use one of "
            + ", ".join(d for d in BASE_POLICY if d != "frame-ancestors")
        )
    if "unsafe" in source or not source.strip() or any(c in source for c in ";,\r\n"):
        raise ConfigurationError(
            f"mercato: CSP source {source!r} for {directive} is not allowed: give an origin "
            "such as https://js.example.com"
        )
    sources = csp_policy(registry)[directive]
    if source not in sources:
        sources.append(source)


def _header_value(policy: dict[str, list[str]]) -> str:
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy.items())


def security_headers_tween_factory(handler, registry):
    settings = registry.settings
    # Both read and checked with the kernel's settings (mercato.settings).
    require_https = settings["mercato.require_https"]
    hsts_max_age = settings["mercato.hsts_max_age"]
    csp = _header_value(csp_policy(registry))
    static_headers = [
        (name, name.lower(), value)
        for name, value in (
            ("Content-Security-Policy", csp),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            ("X-Frame-Options", "DENY"),
        )
    ]
    hsts = f"max-age={hsts_max_age}; includeSubDomains" if hsts_max_age > 0 else None

    def security_headers_tween(request):
        https = request.scheme == "https"
        if require_https and not https and request.path not in HEALTH_PATHS:
            if request.method in ("GET", "HEAD"):
                location = "https://" + request.url.split("://", 1)[1]
                response = HTTPMovedPermanently(location=location)
            else:
                response = error_response(request, 403, "This shop only accepts HTTPS.")
        else:
            response = handler(request)
        # The names the view set, lowered once: ``headers.setdefault`` lowered every
        # name of the response again for each header added here.
        headerlist = response.headerlist
        present = {name.lower() for name, _ in headerlist}
        for name, lowered, value in static_headers:
            if lowered not in present:
                headerlist.append((name, value))
        if https and hsts and "strict-transport-security" not in present:
            headerlist.append(("Strict-Transport-Security", hsts))
        return response

    return security_headers_tween


CORS_SETTING = "mercato.cors.origins"
CORS_PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, Idempotency-Key, X-CSRF-Token",
    "Access-Control-Max-Age": "600",
}
# What a page may read of an answer besides the simple headers: when to retry a 429,
# and the reference an error page quotes.
CORS_EXPOSED = "Retry-After, X-Request-Id"


def cors_origins(settings: dict) -> frozenset[str]:
    """The origins of ``mercato.cors.origins``, checked and written as browsers send them."""
    origins = set()
    for value in aslist(settings.get(CORS_SETTING, "")):
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or "@" in parts.netloc
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise ConfigurationError(
                f"mercato: setting {CORS_SETTING}: {value!r} is not an origin: write each as "
                "https://shop.example (no path; no wildcard, since the API answers with "
                "credentials)"
            )
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return frozenset(origins)


def _vary_on_origin(request, response) -> None:
    if "Origin" not in (response.vary or ()):
        response.vary = (*(response.vary or ()), "Origin")


def _add_vary_on_origin(request) -> None:
    # A response callback, added once the views ran: it runs after theirs, some of
    # which set Vary outright (the catalog's cache headers: ``Vary: Cookie``).
    request.add_response_callback(_vary_on_origin)


def cors_tween_factory(handler, registry):
    allowed = cors_origins(registry.settings)
    if not allowed:
        return handler

    def cors_tween(request):
        if not request.environ.get("PATH_INFO", "").startswith("/api/"):
            return handler(request)
        origin = request.headers.get("Origin")
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in (
            request.headers
        )
        if origin not in allowed:
            if preflight:
                response = error_response(request, 403, "This origin may not call the API.")
            else:
                response = handler(request)
            _add_vary_on_origin(request)
            return response
        if preflight:
            response = Response(status=204, headers=CORS_PREFLIGHT_HEADERS)
        else:
            response = handler(request)
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        _add_vary_on_origin(request)
        return response

    return cors_tween


def _trust_for_csrf(settings: dict, origins: frozenset[str]) -> None:
    # Pyramid's CSRF check compares an HTTPS request's Origin with these host[:port]s.
    trusted = aslist(settings.get("pyramid.csrf_trusted_origins", []))
    trusted += [urlsplit(origin).netloc for origin in sorted(origins) if origin.startswith("https")]
    settings["pyramid.csrf_trusted_origins"] = trusted


def includeme(config):
    _trust_for_csrf(config.registry.settings, cors_origins(config.registry.settings))
    # Under the security headers: a preflight's answer gets them too.
    config.add_tween(
        "mercato.ops.headers.cors_tween_factory",
        under="mercato.ops.headers.security_headers_tween_factory",
    )
    config.add_directive("add_csp_source", add_csp_source)
    for key, value in config.registry.settings.items():
        if key.startswith("mercato.csp."):
            for source in aslist(value):
                _allow(config.registry, key[len("mercato.csp.") :], source)
    config.add_tween("mercato.ops.headers.security_headers_tween_factory")
