"""The shipping panel on the admin dashboard: where the shop ships, and a warning when it
ships nowhere. With the plugin on, an order needs a shipping method, so a shop whose zones
have no active method (a fresh install, every method paused) takes no order at all; the
store owner should read that on the first page of the admin, not from a shopper."""

from markupsafe import Markup
from pyramid.renderers import render

from .services import load_zones
from .views import MANAGE


def shipping_panel(request) -> Markup | None:
    if not request.has_permission(MANAGE):
        return None
    shipping = [zone for zone in load_zones(request.dbsession) if zone.rates]
    value = {
        "zones": len(shipping),
        "countries": len(set().union(*(zone.countries for zone in shipping))),
        "regions": len(set().union(*(zone.regions for zone in shipping))),
    }
    # The template autoescapes every value: its output is HTML we can vouch for.
    return Markup(render("shipping/admin_dashboard.jinja2", value, request=request))  # noqa: S704
