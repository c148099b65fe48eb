"""The checkout's JSON API: checkout (``/api/checkout…``), the shopper's orders
(``/api/orders/{token}``, ``/api/account/orders``) and staff operations on an order
(``/api/staff/orders/{number}/…``). Built on the kernel's checkout unit
(``mercato.place_order`` …) like the storefront's pages; ``no:storefront`` leaves a
headless shop with this API, ``no:api`` a shop with pages only.
"""
