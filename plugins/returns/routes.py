"""The returns plugin's URLs: the customer's (by the order's secret link, or from their
account), the staff pages under /admin and the JSON API under /api."""

# At most 9 digits: an id beyond PostgreSQL's integer is a 404, not a database error.
ID = r"{id:\d{1,9}}"
ACTION = r"{action:approve|refuse|receive|refund}"


def includeme(config):
    # The customer: a guest (and anyone holding the link) by the order's token, a
    # logged-in customer by the order's number.
    config.add_route("returns_by_token", "/orders/{token}/returns")
    config.add_route("returns_by_number", "/account/orders/{number}/returns")
    config.add_route("returns_api_customer", "/api/orders/{token}/returns")
    # Staff.
    config.add_route("returns_admin", "/admin/returns")
    config.add_route("returns_admin_return", f"/admin/orders/{{number}}/returns/{ID}")
    config.add_route("returns_admin_action", f"/admin/orders/{{number}}/returns/{ID}/{ACTION}")
    config.add_route("returns_api_staff", "/api/staff/orders/{number}/returns")
    config.add_route(
        "returns_api_staff_action", f"/api/staff/orders/{{number}}/returns/{ID}/{ACTION}"
    )
    config.scan("mercato_returns.views")
    config.scan("mercato_returns.api")
