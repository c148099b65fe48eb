"""The order's life after the sale: staff's operations on a placed order.

Capture, ship (all or some lines, one parcel or several), cancel lines, refund (an
amount, lines, the shipping, goodwill) and change an order's lines (``changes``), each
making the payment follow through the kernel's one payment-call path. Not the kernel:
the kernel holds the checkout unit, the order status machine and the order's arithmetic,
and never imports this part (tests/kernel/test_kernel_shape.py). Not a plugin either:
it has no hooks, routes or pages of its own. The admin, the JSON API, returns and
fulfilment call it through the public API (``from mercato import refund_order``), so a
plugin never imports another to act on an order.
"""
