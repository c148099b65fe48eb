"""The JSON API's routes. The kernel links to the order's (``api_order_link``) and the
checkout's (``api_checkout``) through ``mercato.storefront_url`` when the storefront's
pages are not there."""


def includeme(config):
    config.add_route("api_checkout", "/api/checkout")
    config.add_route("api_checkout_address", "/api/checkout/address")
    config.add_route("api_checkout_shipping", "/api/checkout/shipping")
    config.add_route("api_checkout_orders", "/api/checkout/orders")
    config.add_route("api_order_link", "/api/orders/{token}")
    config.add_route("api_orders_history", "/api/account/orders")
    config.add_route("api_staff_order", "/api/staff/orders/{number}")
    config.add_route("api_order_refunds", "/api/staff/orders/{number}/refunds")
    config.add_route("api_order_fulfilment", "/api/staff/orders/{number}/fulfilment")
    config.add_route("api_order_cancellation", "/api/staff/orders/{number}/cancellation")
    # Units of a paid order that will not ship (the above cancels an unpaid order whole).
    config.add_route("api_order_line_cancellations", "/api/staff/orders/{number}/cancellations")
    # Units taken off or added before shipping, and the balance a change leaves to pay.
    config.add_route("api_order_changes", "/api/staff/orders/{number}/changes")
    config.add_route("api_order_balance_payments", "/api/orders/{token}/balance-payments")
    config.scan(".views")
    config.scan(".order_changes")
