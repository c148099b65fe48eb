"""The admin plugin's hook implementations (its entry point)."""

from pyramid.tweens import EXCVIEW

from mercato import hookimpl, provide_admin

from . import (
    models,  # noqa: F401 (the audit log's table, on mercato.Base)
    schemas,
)
from .navigation import admin_links


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_permissions():
    return {
        # The back office as a whole (orders.manage, every order, is the kernel's).
        "admin.access": ["staff", "admin"],
        # Creating staff accounts and changing roles.
        "staff.manage": ["admin"],
        # Erasing a customer's account at their request (it cannot be undone).
        "customers.erase": ["admin"],
    }


@hookimpl
def mercato_configure(config):
    provide_admin(config)  # other plugins' staff pages extend our layout
    config.add_request_method(admin_links, "admin_links", reify=True)
    config.add_jinja2_search_path("mercato_admin:templates", name=".jinja2")
    config.add_static_view("static/admin", "mercato_admin:static", cache_max_age=3600)
    config.include("mercato_admin.routes")
    # Inside the request's transaction (under pyramid_tm) and after error views have
    # turned exceptions into responses (over excview): an action is logged only when
    # it succeeded, and only together with what it changed.
    config.add_tween(
        "mercato_admin.services.audit_tween_factory",
        under="pyramid_tm.tm_tween_factory",
        over=EXCVIEW,
    )
