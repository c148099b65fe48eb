"""The webhooks plugin's URLs: its admin pages under /admin/webhooks."""

# At most 9 digits (18 for deliveries): beyond the column is a 404, not a database error.
ID = r"{id:\d{1,9}}"
DELIVERY_ID = r"{id:\d{1,18}}"


def includeme(config):
    config.add_route("webhooks_admin", "/admin/webhooks")
    config.add_route("webhooks_admin_new", "/admin/webhooks/new")
    config.add_route("webhooks_admin_endpoint", f"/admin/webhooks/{ID}")
    config.add_route("webhooks_admin_delete", f"/admin/webhooks/{ID}/delete")
    config.add_route("webhooks_admin_delivery", f"/admin/webhooks/deliveries/{DELIVERY_ID}")
    config.add_route("webhooks_admin_retry", f"/admin/webhooks/deliveries/{DELIVERY_ID}/retry")
    config.scan("mercato_webhooks.views")
