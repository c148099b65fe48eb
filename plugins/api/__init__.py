"""The checkout's JSON API: checkout (``/api/checkout…``: address, shipping method,
order), the shopper's orders (``/api/orders/{token}``, ``/api/account/orders``) and staff
operations on an order (``/api/staff/orders/{number}/…``: refunds by line or amount,
units cancelled before shipping, each made once per ``Idempotency-Key``).
Built on the kernel's checkout unit (``mercato.place_order`` …) like the storefront's
pages; ``no:storefront`` leaves a headless shop with this API, ``no:api`` a shop with
pages only. Every total comes with its ``summary`` rows (subtotal, adjustments,
shipping, tax by rate, total), the same as the pages show.
"""
