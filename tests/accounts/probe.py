"""A test plugin that exercises accounts and security the way a real plugin would:
it declares permissions, guards views with them, keeps guest data in the session,
limits an action and records the login hook."""

from types import SimpleNamespace

from pyramid.view import view_config

from mercato import hookimpl
from mercato.ops.ratelimit import limit
from mercato.security import can_view_order

LOGINS: list[dict] = []


@hookimpl
def mercato_permissions():
    return {"probe.customers": ["customer"], "probe.staff": ["staff"]}


@hookimpl
def mercato_user_logged_in(request, user):
    LOGINS.append({"user_id": user.id, "session": dict(request.session)})


@hookimpl
def mercato_configure(config):
    routes = {
        "probe_session": "/probe/session",
        "probe_back_office": "/probe/back-office",
        "probe_staff_admin": "/probe/staff-admin",
        "probe_customers": "/probe/customers",
        "probe_plugin_staff": "/probe/plugin-staff",
        "probe_undeclared": "/probe/undeclared",
        "probe_api_back_office": "/api/probe/back-office",
        "probe_limited": "/probe/limited",
        "probe_order": "/probe/order",
    }
    for name, pattern in routes.items():
        config.add_route(name, pattern)
    config.add_csp_source("script-src", "https://js.example.com")
    config.scan(__name__)


@view_config(route_name="probe_session", request_method="POST", renderer="json")
def put_in_session(request):
    request.session["cart"] = request.POST["cart"]
    return {"ok": True}


@view_config(route_name="probe_session", request_method="GET", renderer="json")
def read_session(request):
    return {
        "cart": request.session.get("cart"),
        "user": request.user.email if request.user else None,
    }


def _text(request, body):
    request.response.text = body
    return request.response


@view_config(route_name="probe_back_office", permission="admin.access")
def back_office(request):
    return _text(request, "back office")


@view_config(route_name="probe_staff_admin", permission="staff.manage")
def staff_admin(request):
    return _text(request, "staff admin")


@view_config(route_name="probe_customers", permission="probe.customers")
def customers_only(request):
    return _text(request, "customers only")


@view_config(route_name="probe_plugin_staff", permission="probe.staff")
def plugin_staff(request):
    return _text(request, "plugin staff")


@view_config(route_name="probe_undeclared", permission="probe.nobody.declared.this")
def undeclared(request):
    return _text(request, "should never be seen")


@view_config(route_name="probe_api_back_office", permission="admin.access", renderer="json")
def api_back_office(request):
    return {"ok": True}


@view_config(route_name="probe_limited", request_method="POST", renderer="json")
def limited(request):
    limit(request, "probe", default="2/minute")
    return {"ok": True}


@view_config(route_name="probe_order", renderer="json")
def order(request):
    """An order owned by ``?owner=<user id>`` (or a guest's), with secret ``s3cret``."""
    owner = request.params.get("owner")
    order = SimpleNamespace(customer_id=int(owner) if owner else None, access_token="s3cret")
    return {"visible": can_view_order(request, order, request.params.get("token"))}
