"""The api plugin's hook implementations (its entry point)."""

from mercato import hookimpl


@hookimpl
def mercato_configure(config):
    config.include("mercato_api.routes")
