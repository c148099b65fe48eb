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
"""

from pyramid.httpexceptions import HTTPMovedPermanently
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
    static_headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
    }
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
        for name, value in static_headers.items():
            response.headers.setdefault(name, value)
        if https and hsts:
            response.headers.setdefault("Strict-Transport-Security", hsts)
        return response

    return security_headers_tween


def includeme(config):
    config.add_directive("add_csp_source", add_csp_source)
    for key, value in config.registry.settings.items():
        if key.startswith("mercato.csp."):
            for source in aslist(value):
                _allow(config.registry, key[len("mercato.csp.") :], source)
    config.add_tween("mercato.ops.headers.security_headers_tween_factory")
