"""The promotions plugin's hook implementations: its entry point, ``promotions``.

Everything the plugin does starts here; Mercato calls these through
``mercato.hookspecs`` and nothing else in Mercato imports this package.
"""

from pathlib import Path

from markupsafe import Markup
from pyramid.renderers import render
from sqlalchemy.orm import object_session

from mercato import Adjustment, hookimpl

from . import openapi, services
from .schemas import PromotionsSettings
from .views import FLASH_QUEUE


@hookimpl
def mercato_settings_schema():
    return PromotionsSettings()


@hookimpl
def mercato_configure(config):
    config.add_jinja2_search_path("mercato_promotions:templates", name=".jinja2")
    config.add_static_view("static/promotions", "mercato_promotions:static", cache_max_age=3600)
    config.add_route("promotions_apply", "/promotions/code")
    config.add_route("promotions_remove", "/promotions/code/remove")
    config.add_route("promotions_api", "/api/promotions/code")
    config.add_route("promotions_staff", "/admin/promotions")
    config.add_route("promotions_staff_new", "/admin/promotions/new")
    config.add_route("promotions_staff_edit", r"/admin/promotions/{id:\d+}")
    config.scan("mercato_promotions.views")


@hookimpl
def mercato_migration_folders():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def mercato_permissions():
    return {"promotions.manage": ["staff", "admin"]}


@hookimpl
def mercato_admin_links(request):
    # The kernel shows the link only to people holding the permission.
    return [("Discount codes", request.route_path("promotions_staff"), "promotions.manage")]


@hookimpl
def mercato_price_adjustments(lines, context):
    request = context.request
    if request is None or not lines:
        return None
    code = request.session.get(services.SESSION_KEY)
    if not code:
        return None
    promo = services.find(context.dbsession or request.dbsession, code)
    if services.unusable_reason(promo):
        return None
    off = services.discount(promo, lines, context.currency)
    if off is None:
        return None
    label = f"{request.registry.settings['mercato.promotions']['label']} {promo.code}"
    return [Adjustment(label=label, amount=-off, code=promo.code, source=services.NAME)]


@hookimpl
def mercato_render_slot(request, name, context):
    if name == "head":
        href = request.static_path("mercato_promotions:static/promotions.css")
        return Markup('<link rel="stylesheet" href="{}">').format(href)
    if name != "cart_after_lines":
        return None
    code = request.session.get(services.SESSION_KEY)
    promo = services.find(request.dbsession, code) if code else None
    refused = request.session.pop_flash(FLASH_QUEUE)
    values = {
        "code": code,
        "promo": promo,
        "problem": services.unusable_reason(promo) if code else None,
        "refused": refused[-1] if refused else None,
    }
    # The template autoescapes every value, so its output is HTML we can vouch for.
    return Markup(render("promotions/cart_field.jinja2", values, request=request))  # noqa: S704


@hookimpl
def mercato_order_placed(order):
    # An order keeps its adjustments as dicts (label, amount, code, source): the code
    # travels there from mercato_price_adjustments above.
    codes = {
        adjustment["code"]
        for adjustment in order.adjustments or ()
        if adjustment.get("source") == services.NAME and adjustment.get("code")
    }
    if not codes:
        return
    # The order is the checkout's ORM object: its session is the checkout's transaction,
    # so a refused redemption aborts the whole checkout.
    dbsession = object_session(order)
    for code in sorted(codes):
        services.redeem(dbsession, code)


@hookimpl
def mercato_cart_checked_out(request, order):
    request.session.pop(services.SESSION_KEY, None)


@hookimpl
def mercato_openapi():
    return openapi.fragment()
