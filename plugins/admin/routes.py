"""The admin's routes, all under ``/admin``."""


def includeme(config):
    config.add_route("admin_dashboard", "/admin")
    config.add_route("admin_orders", "/admin/orders")
    config.add_route("admin_order", "/admin/orders/{number}")
    config.add_route("admin_order_capture", "/admin/orders/{number}/capture")
    config.add_route("admin_order_cancel", "/admin/orders/{number}/cancel")
    config.add_route("admin_order_fulfil", "/admin/orders/{number}/fulfil")
    config.add_route("admin_order_refund", "/admin/orders/{number}/refund")
    config.add_route("admin_order_cancel_lines", "/admin/orders/{number}/cancel-lines")
    config.add_route("admin_order_add_lines", "/admin/orders/{number}/add-lines")
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
    config.scan(".views")
