"""The back office under ``/admin``: dashboard, orders, customers, staff, plugins,
outbox and the audit log of every staff action.

``models`` (the audit log), ``services`` (dashboard figures, audit, staff accounts),
``schemas`` (colander forms and filters), ``navigation`` (the menu, joined by plugins
through ``mercato_admin_links``), ``views``. Every page needs ``admin.access`` (staff
and admins), order actions ``orders.manage``, staff accounts ``staff.manage`` (admins);
a guest is sent to the login page, a customer gets 403 (``mercato.security``).

Settings: ``mercato.admin.timezone`` (an IANA zone, default ``UTC``): where the
dashboard's "today" and "this month" begin and end.
"""


def includeme(config):
    # Imported here: services needs mercato.security, which imports the accounts models.
    from pyramid.tweens import EXCVIEW

    from .navigation import admin_links
    from .services import read_timezone

    config.registry.mercato_admin_timezone = read_timezone(config.registry.settings)
    config.add_request_method(admin_links, "admin_links", reify=True)

    config.add_route("admin_dashboard", "/admin")
    config.add_route("admin_orders", "/admin/orders")
    config.add_route("admin_order", "/admin/orders/{number}")
    config.add_route("admin_order_capture", "/admin/orders/{number}/capture")
    config.add_route("admin_order_cancel", "/admin/orders/{number}/cancel")
    config.add_route("admin_order_fulfil", "/admin/orders/{number}/fulfil")
    config.add_route("admin_order_refund", "/admin/orders/{number}/refund")
    config.add_route("admin_customers", "/admin/customers")
    config.add_route("admin_customer", r"/admin/customers/{id:\d+}")
    config.add_route("admin_staff", "/admin/staff")
    config.add_route("admin_staff_invite", "/admin/staff/invite")
    config.add_route("admin_staff_role", r"/admin/staff/{id:\d+}/role")
    config.add_route("admin_staff_active", r"/admin/staff/{id:\d+}/active")
    config.add_route("admin_plugins", "/admin/plugins")
    config.add_route("admin_outbox", "/admin/outbox")
    config.add_route("admin_outbox_retry", r"/admin/outbox/{id:\d+}/retry")
    config.add_route("admin_audit", "/admin/audit")
    # Inside the request's transaction (under pyramid_tm) and after error views have
    # turned exceptions into responses (over excview): an action is logged only when
    # it succeeded, and only together with what it changed.
    config.add_tween(
        "mercato.admin.services.audit_tween_factory",
        under="pyramid_tm.tm_tween_factory",
        over=EXCVIEW,
    )
    config.scan(".views")
