"""The code field's routes (storefront form and JSON) and the staff pages."""

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mercato import admin_available, error_response, safe_next

from . import services
from .models import PERCENT, DiscountCode
from .schemas import read_code_form

FLASH_QUEUE = "promotions"


# ---------------------------------------------------------------------------
# Storefront: the field on the cart page posts here
# ---------------------------------------------------------------------------


@view_config(route_name="promotions_apply", request_method="POST")
def apply_code(request):
    typed = request.POST.get("code", "")
    try:
        promo = services.apply(request, typed)
    except services.CodeRefused as exc:
        # Shown next to the field, with what the shopper typed, on the page they came from.
        request.session.flash({"code": typed[:64], "error": str(exc)}, queue=FLASH_QUEUE)
    else:
        request.session.flash(f"Discount code {promo.code} applied.")
    return HTTPSeeOther(safe_next(request, request.POST.get("next")))


@view_config(route_name="promotions_remove", request_method="POST")
def remove_code(request):
    if request.session.pop(services.SESSION_KEY, None):
        request.session.flash("Discount code removed.")
    return HTTPSeeOther(safe_next(request, request.POST.get("next")))


@view_config(route_name="promotions_api", request_method="PUT", renderer="json")
def api_apply_code(request):
    try:
        body = request.json_body
    except ValueError:
        body = None
    typed = body.get("code") if isinstance(body, dict) else None
    if not isinstance(typed, str):
        return error_response(request, 400, 'Send JSON like {"code": "SUMMER10"}.')
    try:
        promo = services.apply(request, typed)
    except services.CodeRefused as exc:
        return error_response(request, 400, str(exc))
    return {"code": promo.code, "description": promo.description}


@view_config(route_name="promotions_api", request_method="DELETE", renderer="json")
def api_remove_code(request):
    request.session.pop(services.SESSION_KEY, None)
    return {"code": None}


@view_config(route_name="promotions_api", request_method="GET", renderer="json")
def api_current_code(request):
    request.response.cache_control.no_store = True
    return {"code": request.session.get(services.SESSION_KEY)}


# ---------------------------------------------------------------------------
# Staff: /admin/promotions
# ---------------------------------------------------------------------------


def _require_admin_pages(request) -> None:
    # The pages extend the admin's layout: in a shop without the admin plugin
    # (``no:admin``) they do not exist, rather than fail to render.
    if not admin_available(request):
        raise HTTPNotFound()


@view_config(
    route_name="promotions_staff",
    permission="promotions.manage",
    renderer="promotions/staff_list.jinja2",
)
def staff_list(request):
    _require_admin_pages(request)
    codes = request.dbsession.scalars(select(DiscountCode).order_by(DiscountCode.code)).all()
    return {"codes": codes}


def _shown(promo: DiscountCode | None) -> dict:
    """The form's field values for a code as it is stored (or a new one's defaults)."""
    if promo is None:
        return {"kind": PERCENT, "active": "true"}
    stamp = "%Y-%m-%dT%H:%M"
    value = promo.percent.normalize() if promo.kind == PERCENT else promo.fixed_amount.decimal()
    return {
        "code": promo.code,
        "description": promo.description,
        "kind": promo.kind,
        "value": value,
        "minimum_order": promo.minimum.decimal() if promo.minimum_order else "",
        "starts_at": promo.starts_at.strftime(stamp) if promo.starts_at else "",
        "expires_at": promo.expires_at.strftime(stamp) if promo.expires_at else "",
        "max_uses": promo.max_uses or "",
        "active": "true" if promo.active else "",
    }


def _form_page(request, promo: DiscountCode | None):
    currency = request.registry.settings["mercato.currency"]
    page = {"promo": promo, "currency": currency, "data": _shown(promo), "errors": {}}
    if request.method != "POST":
        return page
    values, errors = read_code_form(request.POST, currency)
    max_uses = values.get("max_uses")
    if promo is not None and max_uses is not None and max_uses < promo.times_used:
        errors["max_uses"] = f"This code was already used {promo.times_used} times."
    if not errors:
        target = promo or DiscountCode()
        try:
            # A savepoint: a duplicate code becomes a form error, not a failed request.
            with request.dbsession.begin_nested():
                for key, value in values.items():
                    setattr(target, key, value)
                request.dbsession.add(target)
        except IntegrityError:
            errors["code"] = f"There is already a code {values['code']}."
        else:
            request.session.flash(f"Discount code {target.code} saved.")
            return HTTPSeeOther(request.route_path("promotions_staff"))
    request.response.status_int = 400
    # What the staff member typed stays in the fields, next to what is wrong with it.
    return {**page, "data": request.POST, "errors": errors}


@view_config(
    route_name="promotions_staff_new",
    permission="promotions.manage",
    renderer="promotions/staff_form.jinja2",
    request_method=("GET", "POST"),
)
def staff_new(request):
    _require_admin_pages(request)
    return _form_page(request, None)


@view_config(
    route_name="promotions_staff_edit",
    permission="promotions.manage",
    renderer="promotions/staff_form.jinja2",
    request_method=("GET", "POST"),
)
def staff_edit(request):
    _require_admin_pages(request)
    promo = request.dbsession.get(DiscountCode, int(request.matchdict["id"]))
    if promo is None:
        raise HTTPNotFound()
    return _form_page(request, promo)
