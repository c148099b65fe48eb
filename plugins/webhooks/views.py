"""Admin pages for webhook endpoints (permission ``webhooks.manage``): the list, the
form (the secret is shown once, right after the endpoint is created), each endpoint's
delivery log, each delivery's attempts and its retry button.

A form with a mistake is shown again with a 400 and each field's reason, so the
request's transaction aborts and nothing half-saved remains. Every POST needs the CSRF
token (the kernel refuses it otherwise).
"""

import secrets

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.interfaces import ISecurityPolicy
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import func, select

from mercato import admin_available

from .delivery import RetryRefused, retry_now, settings_of
from .events import EVENT_TYPES
from .models import DEAD, PENDING, Attempt, Delivery, Endpoint
from .schemas import endpoint_form_values, read_endpoint_form

MANAGE = "webhooks.manage"
LOG_SIZE = 50  # deliveries shown on an endpoint's page
SHOW_ONCE = "webhooks.new_secret"  # session key: the new secret to show once


def _require_admin_pages(request) -> None:
    # The pages extend the admin's layout: without the admin plugin they do not exist.
    if not admin_available(request):
        raise HTTPNotFound()
    # Without a security policy Pyramid allows every permission: fail closed instead.
    if request.registry.queryUtility(ISecurityPolicy) is None:
        raise HTTPForbidden()


def _page(request, template: str, value: dict, status: int = 200):
    value = {"event_types": EVENT_TYPES, **value}
    response = render_to_response(template, value, request=request)
    response.status_int = status
    response.cache_control.no_store = True
    return response


def _get(request, model):
    _require_admin_pages(request)
    found = request.dbsession.get(model, int(request.matchdict["id"]))
    if found is None:
        raise HTTPNotFound()
    return found


def _counts(dbsession) -> dict[int, dict[str, int]]:
    """``{endpoint id: {status: deliveries}}`` for pending and dead deliveries."""
    rows = dbsession.execute(
        select(Delivery.endpoint_id, Delivery.status, func.count())
        .where(Delivery.status.in_((PENDING, DEAD)))
        .group_by(Delivery.endpoint_id, Delivery.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, status, count in rows:
        counts.setdefault(endpoint_id, {})[status] = count
    return counts


@view_config(route_name="webhooks_admin", request_method="GET", permission=MANAGE)
def endpoints_page(request):
    _require_admin_pages(request)
    endpoints = request.dbsession.scalars(select(Endpoint).order_by(Endpoint.id)).all()
    value = {"endpoints": endpoints, "counts": _counts(request.dbsession)}
    return _page(request, "webhooks/admin_endpoints.jinja2", value)


def _form(request, endpoint: Endpoint | None):
    _require_admin_pages(request)
    value = {"endpoint": endpoint, "errors": {}, "deliveries": [], "secret": None}
    if endpoint is not None:
        value["deliveries"] = request.dbsession.scalars(
            select(Delivery)
            .where(Delivery.endpoint_id == endpoint.id)
            .order_by(Delivery.id.desc())
            .limit(LOG_SIZE)
        ).all()
    if request.method != "POST":
        if endpoint is not None:
            shown = request.session.get(SHOW_ONCE)
            if shown and shown.get("id") == endpoint.id:
                value["secret"] = request.session.pop(SHOW_ONCE)["secret"]
        value["values"] = {
            "url": endpoint.url if endpoint else "",
            "description": endpoint.description if endpoint else "",
            "enabled": endpoint.enabled if endpoint else True,
            "events": endpoint.events if endpoint else [],
        }
        return _page(request, "webhooks/admin_endpoint.jinja2", value)
    allow_private = settings_of(request.registry)["allow_private_targets"]
    values, errors = read_endpoint_form(request.POST, allow_private)
    if errors:
        value.update(values=endpoint_form_values(request.POST), errors=errors)
        return _page(request, "webhooks/admin_endpoint.jinja2", value, 400)
    created = endpoint is None
    if created:
        endpoint = Endpoint(secret=f"whsec_{secrets.token_urlsafe(32)}")
        request.dbsession.add(endpoint)
    for key, item in values.items():
        setattr(endpoint, key, item)
    request.dbsession.flush()
    if created:
        request.session[SHOW_ONCE] = {"id": endpoint.id, "secret": endpoint.secret}
        request.session.flash("Endpoint created. Copy its signing secret now: it is shown once.")
    else:
        request.session.flash("Endpoint saved.")
    return HTTPSeeOther(request.route_path("webhooks_admin_endpoint", id=endpoint.id))


@view_config(route_name="webhooks_admin_new", request_method=("GET", "POST"), permission=MANAGE)
def new_endpoint(request):
    return _form(request, None)


@view_config(
    route_name="webhooks_admin_endpoint", request_method=("GET", "POST"), permission=MANAGE
)
def edit_endpoint(request):
    return _form(request, _get(request, Endpoint))


@view_config(route_name="webhooks_admin_delete", request_method="POST", permission=MANAGE)
def delete_endpoint(request):
    endpoint = _get(request, Endpoint)
    request.dbsession.delete(endpoint)
    request.session.flash(f"Endpoint {endpoint.url} deleted, with its delivery log.")
    return HTTPSeeOther(request.route_path("webhooks_admin"))


@view_config(route_name="webhooks_admin_delivery", request_method="GET", permission=MANAGE)
def delivery_page(request):
    delivery = _get(request, Delivery)
    attempts = request.dbsession.scalars(
        select(Attempt).where(Attempt.delivery_id == delivery.id).order_by(Attempt.id)
    ).all()
    value = {"delivery": delivery, "attempts": attempts}
    return _page(request, "webhooks/admin_delivery.jinja2", value)


@view_config(route_name="webhooks_admin_retry", request_method="POST", permission=MANAGE)
def retry_delivery(request):
    delivery = _get(request, Delivery)
    target = request.route_path("webhooks_admin_delivery", id=delivery.id)
    try:
        done = retry_now(request.registry, delivery.id)
    except RetryRefused as exc:
        request.session.flash(str(exc))
        return HTTPSeeOther(target)
    if done.last_error is None:
        request.session.flash("Delivered.")
    else:
        request.session.flash(f"Failed again: {done.last_error}")
    return HTTPSeeOther(target)
