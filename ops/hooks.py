"""Operations, wired into the app as the ``ops`` plugin (its entry point).

Essential (``mercato.plugins.ESSENTIAL_PLUGINS``: always loaded, ``no:ops`` is refused):
the HTTP edge (page cache, rate limits, security headers, NUL refusal), what an operator
needs around the shop, and the ``mercato`` command's own commands.
"""

from mercato import hookimpl

from . import commands


# A wrapper, so that the HTTP edge is in place before any plugin's mercato_configure runs
# (a ``tryfirst`` one too): plugins call ``config.add_csp_source`` there, and the tweens
# keep the order they had when the kernel added them.
@hookimpl(wrapper=True, specname="mercato_configure")
def configure_edge(config):
    config.include("mercato.ops.routing")  # a cheaper routes mapper, one request class
    config.include("mercato.ops.pagecache")  # shared pages in Redis, personal parts per request
    config.include("mercato.ops.ratelimit")  # Redis-backed limits: login, reset, search, cart …
    config.include("mercato.ops.headers")  # CSP (add_csp_source), HSTS, nosniff, Referrer-Policy
    config.include("mercato.ops.edge")  # a NUL byte anywhere in a request: 400, not a 500 per view
    return (yield)


@hookimpl
def mercato_configure(config):
    config.include("mercato.ops.health")  # /healthz, /readyz
    config.include("mercato.ops.outbox")  # emails and webhooks sent behind the response
    config.include("mercato.ops.requestlog")  # a line per request, to grep by request id
    config.include("mercato.ops.metrics")  # /metrics for Prometheus, not public by default
    config.include("mercato.ops.sentry")  # error reports to Sentry, only when SENTRY_DSN is set


# First, so that ``mercato --help`` lists serve, demo, migrate … before the plugins' own.
@hookimpl(tryfirst=True)
def mercato_cli(subparsers):
    commands.add_commands(subparsers)


@hookimpl
def mercato_checkout_attempted(request, outcome, provider):
    from . import metrics  # configured by mercato_configure; not imported for the CLI

    metrics.observe_checkout(outcome)
    if outcome in ("declined", "unavailable"):
        metrics.payment_failed(provider or "unknown")
