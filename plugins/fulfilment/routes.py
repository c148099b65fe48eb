"""The fulfilment plugin's URLs: the admin's shipments of an order (HTML) and the staff
JSON API, both audited by the admin's audit tween like the admin's own actions."""


def includeme(config):
    config.add_route("fulfilment_admin_shipments", "/admin/orders/{number}/shipments")
    config.add_route("fulfilment_api_shipments", "/api/staff/orders/{number}/shipments")
    config.scan("mercato_fulfilment.views")
