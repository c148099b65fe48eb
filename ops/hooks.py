"""Operations, wired into the app as the ``ops`` plugin (its entry point).

Essential (``mercato.plugins.ESSENTIAL_PLUGINS``: always loaded, ``no:ops`` is refused):
what an operator needs around the shop, and the ``mercato`` command's own commands.
"""

from mercato import hookimpl

from . import commands


@hookimpl
def mercato_configure(config):
    config.include("mercato.ops.health")  # /healthz, /readyz
    config.include("mercato.ops.requestlog")  # a line per request, to grep by request id
    config.include("mercato.ops.metrics")  # /metrics for Prometheus, not public by default
    config.include("mercato.ops.sentry")  # error reports to Sentry, only when SENTRY_DSN is set


# First, so that ``mercato --help`` lists serve, demo, migrate … before the plugins' own.
@hookimpl(tryfirst=True)
def mercato_cli(subparsers):
    commands.add_commands(subparsers)
