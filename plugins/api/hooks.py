"""The api plugin's hook implementations (its entry point)."""

from mercato import hookimpl

from . import openapi, order_changes


@hookimpl
def mercato_configure(config):
    config.include("mercato_api.routes")
    config.include("mercato_api.reference")
    config.include("mercato_api.staff_orders")


@hookimpl
def mercato_openapi():
    fragment = openapi.fragment()
    return {**fragment, "paths": {**fragment["paths"], **order_changes.openapi_paths()}}
