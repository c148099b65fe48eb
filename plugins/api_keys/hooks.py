"""The api_keys plugin's hook implementations (its entry point)."""

from pathlib import Path

from mercato import AdminLink, hookimpl

from . import auth
from .views import MANAGE


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("mercato_api_keys:templates", name=".jinja2")
    config.include("mercato_api_keys.auth")
    config.include("mercato_api_keys.routes")


@hookimpl
def mercato_migration_folders():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def mercato_permissions():
    # A key can act as any staff member: only admins make and revoke them.
    return {MANAGE: ["admin"]}


@hookimpl
def mercato_admin_links(request):
    return [AdminLink("API keys", request.route_path("api_keys_admin"), MANAGE)]


@hookimpl
def mercato_request_credentials(request):
    return auth.credentials(request)
