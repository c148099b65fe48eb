"""The admin's menu: its own pages and every plugin's (``mercato_admin_links``), each
shown only to people who hold its permission."""

import logging
from typing import NamedTuple

from mercato import AdminLink

log = logging.getLogger(__name__)


class MenuItem(NamedTuple):
    label: str
    url: str
    current: bool


# (label, route, permission): the shop's pages first, then plugins', then the system's.
SHOP_LINKS = (
    ("Dashboard", "admin_dashboard", "admin.access"),
    ("Orders", "admin_orders", "admin.access"),
    ("Customers", "admin_customers", "admin.access"),
)
SYSTEM_LINKS = (
    ("Emails", "admin_outbox", "admin.access"),
    ("Audit log", "admin_audit", "admin.access"),
    ("Plugins", "admin_plugins", "admin.access"),
    ("Staff", "admin_staff", "staff.manage"),
)


def _plugin_links(request) -> list[AdminLink]:
    links = []
    for contribution in request.hooks.mercato_admin_links(request=request):
        for item in contribution or ():
            try:
                link = AdminLink(*item)
            except TypeError:
                log.warning("mercato_admin_links: ignored %r (want label, url, permission)", item)
                continue
            links.append(link)
    return links


def admin_links(request) -> list[MenuItem]:
    """The menu for this request's user (``request.admin_links``); the page being
    shown, or the section it belongs to, is ``current``."""
    links = [AdminLink(label, request.route_path(route), p) for label, route, p in SHOP_LINKS]
    links += _plugin_links(request)
    links += [AdminLink(label, request.route_path(route), p) for label, route, p in SYSTEM_LINKS]
    allowed = [link for link in links if request.has_permission(link.permission)]
    path = request.path_info
    # The longest link that is the path or a folder of it: /admin/orders/M-1 → Orders.
    matching = [link.url for link in allowed if path == link.url or path.startswith(link.url + "/")]
    current = max(matching, key=len, default=None)
    return [MenuItem(link.label, link.url, link.url == current) for link in allowed]
