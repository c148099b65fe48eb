"""Staff pages for the rates: staff read them (``tax.view``), admins change them
(``tax.manage``). Every refused form answers 400 with the page and one message per
field; the 400 also aborts the request's transaction."""

from itertools import groupby

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.interfaces import ISecurityPolicy
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select

from mercato import admin_available, countries, country_name, region_name

from . import services
from .models import TaxRate
from .schemas import RATE_FORM, read_rate

VIEW = "tax.view"
MANAGE = "tax.manage"


def require_staff_pages(request) -> None:
    # The pages extend the admin's layout: without an admin plugin there are none.
    if not admin_available(request):
        raise HTTPNotFound()
    # Without a security policy Pyramid allows everything: fail closed instead.
    if request.registry.queryUtility(ISecurityPolicy) is None:
        raise HTTPForbidden()


def respond(request, template: str, value: dict, status: int = 200):
    settings = request.registry.settings["mercato.tax"]
    value = {
        "can_manage": request.has_permission(MANAGE),
        "prices_include_tax": settings["prices_include_tax"],
        "home_country": country_name(settings["home_country"]),
        **value,
    }
    response = render_to_response(template, value, request=request)
    response.status_int = status
    response.cache_control.no_store = True
    return response


def _list_url(request, country: str = "") -> str:
    return request.route_path("tax_admin", _query={"country": country} if country else {})


@view_config(route_name="tax_admin", request_method="GET", permission=VIEW)
def rates_page(request):
    require_staff_pages(request)
    session = request.dbsession
    chosen = (request.GET.get("country") or "").strip().upper()
    error, status = None, 200
    if chosen and (len(chosen) != 2 or chosen not in dict(countries())):
        error, status, chosen = "There is no such country: choose one from the list.", 400, ""
    rates = services.all_rates(session, chosen)
    by_name = sorted(rates, key=lambda rate: (country_name(rate.country), rate.region))
    groups = [
        (code, country_name(code), list(rows))
        for code, rows in groupby(by_name, key=lambda rate: rate.country)
    ]
    in_table = session.scalars(select(TaxRate.country).distinct()).all()
    choices = sorted(((code, country_name(code)) for code in in_table), key=lambda c: c[1])
    return respond(
        request,
        "tax/admin_rates.jinja2",
        {
            "groups": groups,
            "count": len(rates),
            "chosen": chosen,
            "choices": choices,
            "error": error,
            "region_name": region_name,
        },
        status,
    )


def _form(request, values: dict, errors: dict, rate: TaxRate | None = None, status: int = 200):
    action = (
        request.route_path("tax_admin_edit", id=rate.id)
        if rate is not None
        else request.route_path("tax_admin_new")
    )
    return respond(
        request,
        "tax/admin_rate_form.jinja2",
        {
            "rate": rate,
            "action": action,
            "values": values,
            "errors": errors,
            "countries": countries(),
        },
        status,
    )


def _typed(request) -> dict[str, str]:
    """What was typed, to show again with the messages (bounded: a 10 MB field is not
    sent back to the browser)."""
    return {
        node.name: value[:200]
        for node in RATE_FORM.children
        if isinstance(value := request.POST.get(node.name, ""), str)
    }


def _save(request, rate: TaxRate, values: dict, is_new: bool):
    try:
        services.save(request.dbsession, rate, values)
    except services.DuplicateRate as exc:
        message = f"{exc} already has a rate: change that one instead."
        return _form(
            request, _typed(request), {"tax_class": message}, None if is_new else rate, 400
        )
    place = services.describe(rate.country, rate.region, rate.tax_class)
    request.session.flash(f"Rate for {place} saved: {rate.percent}%.")
    return HTTPSeeOther(_list_url(request, rate.country))


@view_config(route_name="tax_admin_new", request_method="GET", permission=MANAGE)
def new_rate_page(request):
    require_staff_pages(request)
    country = (request.GET.get("country") or "")[:2].upper()
    return _form(request, {"country": country, "tax_class": "standard"}, {})


@view_config(route_name="tax_admin_new", request_method="POST", permission=MANAGE)
def create_rate(request):
    require_staff_pages(request)
    values, errors = read_rate(request.POST)
    if errors:
        return _form(request, _typed(request), errors, status=400)
    return _save(request, TaxRate(), values, is_new=True)


def _found(request) -> TaxRate:
    rate = services.find(request.dbsession, request.matchdict["id"])
    if rate is None:
        raise HTTPNotFound()
    return rate


@view_config(route_name="tax_admin_edit", request_method="GET", permission=MANAGE)
def edit_rate_page(request):
    require_staff_pages(request)
    rate = _found(request)
    values = {
        "country": rate.country,
        "region": rate.region,
        "tax_class": rate.tax_class,
        "rate": rate.percent,
        "name": rate.name,
    }
    return _form(request, values, {}, rate)


@view_config(route_name="tax_admin_edit", request_method="POST", permission=MANAGE)
def update_rate(request):
    require_staff_pages(request)
    rate = _found(request)
    values, errors = read_rate(request.POST)
    if errors:
        return _form(request, _typed(request), errors, rate, 400)
    return _save(request, rate, values, is_new=False)


@view_config(route_name="tax_admin_delete", request_method="POST", permission=MANAGE)
def delete_rate(request):
    require_staff_pages(request)
    rate = _found(request)
    place = services.describe(rate.country, rate.region, rate.tax_class)
    request.dbsession.delete(rate)
    request.session.flash(f"Rate for {place} deleted.")
    return HTTPSeeOther(_list_url(request, rate.country))
