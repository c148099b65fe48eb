"""Capability checks: what this composition of plugins offers a page.

Default plugins can be switched off (``no:admin``, ``no:accounts``, ``no:storefront``)
and a plugin never imports another, so a page that links to another plugin's route or
extends another plugin's layout asks here first: a missing link, or a 404, instead of
a 500.
"""

from pyramid.interfaces import IRoutesMapper


def has_route(request, name: str) -> bool:
    """Whether some plugin added the route ``name``, i.e. ``request.route_path(name)``
    works (``login``, ``logout``, ``password_reset`` are the accounts plugin's)."""
    mapper = request.registry.queryUtility(IRoutesMapper)
    return mapper is not None and mapper.get_route(name) is not None


def provide_admin(config) -> None:
    """Declare, from ``mercato_configure``, that this plugin serves the admin: the
    layout ``admin/layout.jinja2`` that staff pages extend and ``request.admin_links``.
    The admin plugin does; a shop's own replacement for it must too."""
    config.registry.mercato_admin_available = True


def admin_available(request) -> bool:
    """Whether a plugin serves the admin (see ``provide_admin``). A plugin's staff
    pages answer 404 without it (``raise HTTPNotFound()``): they have no layout to
    extend, and no menu would lead to them."""
    return getattr(request.registry, "mercato_admin_available", False)
