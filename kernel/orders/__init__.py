"""Orders and the checkout unit: the checkout transaction, the payment record, the order
status machine, reconcile, and the JSON API every client checks out with (the storefront
plugin adds the HTML pages on top of the same functions)."""


def includeme(config):
    config.add_route("api_checkout", "/api/checkout")
    config.add_route("api_checkout_address", "/api/checkout/address")
    config.add_route("api_checkout_orders", "/api/checkout/orders")
    config.add_route("api_order_link", "/api/orders/{token}")
    config.add_route("api_orders_history", "/api/account/orders")
    config.add_route("api_order_refunds", "/api/staff/orders/{number}/refunds")
    config.add_route("api_order_fulfilment", "/api/staff/orders/{number}/fulfilment")
    config.add_route("api_order_cancellation", "/api/staff/orders/{number}/cancellation")
    config.scan(".api")
