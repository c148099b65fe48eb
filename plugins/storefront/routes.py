"""The storefront's pages. The kernel links to some of them (the confirmation page from
emails and payment plugins, the order link from the JSON API) through
``mercato.storefront_url``, which falls back to the JSON API when they are not here."""


def includeme(config):
    config.add_route("checkout", "/checkout")
    config.add_route("checkout_address", "/checkout/address")
    config.add_route("checkout_shipping", "/checkout/shipping")
    config.add_route("checkout_review", "/checkout/review")
    config.add_route("checkout_payment", "/checkout/payment")
    config.add_route("checkout_confirmation", "/checkout/done/{token}")
    config.add_route("order_link", "/orders/{token}")
    config.add_route("order_balance", "/orders/{token}/balance")
    config.add_route("orders_history", "/account/orders")
    config.add_route("orders_history_order", "/account/orders/{number}")
    config.scan(".views")
