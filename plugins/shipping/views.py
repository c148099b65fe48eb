"""Staff pages for zones and methods (permission ``shipping.manage``), in the admin.

A form with a mistake is shown again with a 400 and each field's reason, so the
request's transaction aborts and nothing half-saved remains; a change is saved whole
and staff are sent back to the list (303).
"""

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.interfaces import ISecurityPolicy
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from mercato import Money, admin_available, countries, country_name, region_name

from .models import RATE_TYPES, ShippingMethod, ShippingZone
from .schemas import (
    method_form_values,
    method_values,
    read_method_form,
    read_zone_form,
    show_kilograms,
    zone_form_values,
)

MANAGE = "shipping.manage"


def _require_admin_pages(request) -> None:
    # The pages extend the admin's layout: without the admin plugin they do not exist.
    if not admin_available(request):
        raise HTTPNotFound()
    # Without a security policy Pyramid allows every permission: fail closed instead.
    if request.registry.queryUtility(ISecurityPolicy) is None:
        raise HTTPForbidden()


def _page(request, template: str, value: dict, status: int = 200):
    response = render_to_response(template, value, request=request)
    response.status_int = status
    response.cache_control.no_store = True
    return response


def _currency(request) -> str:
    return request.registry.settings["mercato.currency"]


def _get(request, model):
    _require_admin_pages(request)
    found = request.dbsession.get(model, int(request.matchdict["id"]))
    if found is None:
        raise HTTPNotFound()
    return found


def _back_to_list(request, message: str):
    request.session.flash(message)
    return HTTPSeeOther(request.route_path("shipping_admin"))


def _places(zone: ShippingZone) -> str:
    """A zone's countries and regions by name: "Austria, Belgium …; Alaska (US-AK)"."""
    named = sorted(country_name(code) for code in zone.countries)
    named += sorted(f"{region_name(*code.split('-', 1))} ({code})" for code in zone.regions)
    return ", ".join(named)


def _helpers() -> dict:
    """What the templates use to show amounts, weights and places."""
    return {"money": Money, "kg": show_kilograms, "places": _places, "rate_types": RATE_TYPES}


# ---------------------------------------------------------------------------
# Zones
# ---------------------------------------------------------------------------


@view_config(route_name="shipping_admin", request_method="GET", permission=MANAGE)
def zones_page(request):
    _require_admin_pages(request)
    zones = request.dbsession.scalars(
        select(ShippingZone)
        .options(selectinload(ShippingZone.methods))
        .order_by(ShippingZone.position, ShippingZone.id)
    ).all()
    return _page(request, "shipping/admin_zones.jinja2", {"zones": zones, **_helpers()})


def _overlaps(dbsession, zone: ShippingZone | None, values: dict) -> dict[str, str]:
    """A country, or a region, belongs to one zone at most: which zone a destination
    uses must never depend on the order zones happen to be read in."""
    errors = {}
    others = dbsession.scalars(select(ShippingZone).order_by(ShippingZone.id)).all()
    for other in others:
        if zone is not None and other.id == zone.id:
            continue
        shared = [code for code in values["countries"] if code in other.countries]
        if shared and "countries" not in errors:
            errors["countries"] = (
                f"{country_name(shared[0])} is already in the zone “{other.name}”: "
                "a country belongs to one zone."
            )
        shared = [code for code in values["regions"] if code in other.regions]
        if shared and "regions" not in errors:
            errors["regions"] = f"{shared[0]} is already in the zone “{other.name}”."
    return errors


def _zone_form(request, zone: ShippingZone | None):
    _require_admin_pages(request)
    value = {"zone": zone, "all_countries": countries(), "errors": {}, **_helpers()}
    if request.method != "POST":
        value["values"] = {
            "name": zone.name if zone else "",
            "position": zone.position if zone else 0,
            "countries": zone.countries if zone else [],
            "regions": ", ".join(zone.regions) if zone else "",
        }
        return _page(request, "shipping/admin_zone_form.jinja2", value)
    values, errors = read_zone_form(request.POST)
    if values is not None:
        errors = _overlaps(request.dbsession, zone, values)
    if not errors:
        target = zone or ShippingZone()
        for key, item in values.items():
            setattr(target, key, item)
        request.dbsession.add(target)
        return _back_to_list(request, f"Zone {target.name} saved.")
    value.update(values=zone_form_values(request.POST), errors=errors)
    return _page(request, "shipping/admin_zone_form.jinja2", value, 400)


@view_config(
    route_name="shipping_admin_zone_new", request_method=("GET", "POST"), permission=MANAGE
)
def new_zone(request):
    return _zone_form(request, None)


@view_config(route_name="shipping_admin_zone", request_method=("GET", "POST"), permission=MANAGE)
def edit_zone(request):
    return _zone_form(request, _get(request, ShippingZone))


@view_config(route_name="shipping_admin_zone_delete", request_method="POST", permission=MANAGE)
def delete_zone(request):
    _require_admin_pages(request)
    zone = _get(request, ShippingZone)
    request.dbsession.delete(zone)
    return _back_to_list(request, f"Zone {zone.name} deleted, with its methods.")


# ---------------------------------------------------------------------------
# Methods
# ---------------------------------------------------------------------------


def _code_taken(dbsession, code: str, method: ShippingMethod | None) -> bool:
    found = dbsession.scalar(select(ShippingMethod.id).where(ShippingMethod.code == code))
    return found is not None and (method is None or found != method.id)


def _method_form(request, zone: ShippingZone, method: ShippingMethod | None):
    _require_admin_pages(request)
    currency = _currency(request)
    max_tiers = request.registry.settings["mercato.shipping"]["max_tiers"]
    value = {
        "zone": zone,
        "method": method,
        "currency": currency,
        "max_tiers": max_tiers,
        "errors": {},
        **_helpers(),
    }
    if request.method != "POST":
        value["values"] = (
            method_values(method, currency)
            if method
            else {"rate_type": "flat", "active": True, "position": len(zone.methods), "tiers": []}
        )
        return _page(request, "shipping/admin_method_form.jinja2", value)
    values, errors = read_method_form(request.POST, currency, max_tiers)
    if values is not None and _code_taken(request.dbsession, values["code"], method):
        errors = {"code": f"Another method already uses the code {values['code']}."}
    if not errors:
        target = method or ShippingMethod(zone_id=zone.id)
        try:
            # A savepoint: a code taken by a concurrent save is a form error, not a 500.
            with request.dbsession.begin_nested():
                for key, item in values.items():
                    setattr(target, key, item)
                request.dbsession.add(target)
        except IntegrityError:
            errors = {"code": f"Another method already uses the code {values['code']}."}
        else:
            return _back_to_list(request, f"Method {target.name} ({target.code}) saved.")
    value.update(values=method_form_values(request.POST, max_tiers), errors=errors)
    return _page(request, "shipping/admin_method_form.jinja2", value, 400)


@view_config(
    route_name="shipping_admin_method_new", request_method=("GET", "POST"), permission=MANAGE
)
def new_method(request):
    return _method_form(request, _get(request, ShippingZone), None)


@view_config(route_name="shipping_admin_method", request_method=("GET", "POST"), permission=MANAGE)
def edit_method(request):
    method = _get(request, ShippingMethod)
    return _method_form(request, method.zone, method)


@view_config(route_name="shipping_admin_method_delete", request_method="POST", permission=MANAGE)
def delete_method(request):
    _require_admin_pages(request)
    method = _get(request, ShippingMethod)
    request.dbsession.delete(method)
    return _back_to_list(request, f"Method {method.name} ({method.code}) deleted.")
