"""The shipping plugin's URLs: its staff pages under /admin/shipping."""

# At most 9 digits: an id beyond PostgreSQL's integer is a 404, not a database error.
ID = r"{id:\d{1,9}}"


def includeme(config):
    config.add_route("shipping_admin", "/admin/shipping")
    config.add_route("shipping_admin_zone_new", "/admin/shipping/zones/new")
    config.add_route("shipping_admin_zone", f"/admin/shipping/zones/{ID}")
    config.add_route("shipping_admin_zone_delete", f"/admin/shipping/zones/{ID}/delete")
    config.add_route("shipping_admin_method_new", f"/admin/shipping/zones/{ID}/methods/new")
    config.add_route("shipping_admin_method", f"/admin/shipping/methods/{ID}")
    config.add_route("shipping_admin_method_delete", f"/admin/shipping/methods/{ID}/delete")
    config.scan("mercato_shipping.views")
