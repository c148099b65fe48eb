"""The order's life after the sale: staff's operations on a placed order.

Capture, ship (all or some lines, one parcel or several), cancel lines, refund (an
amount, lines, the shipping, goodwill) and change an order's lines (``changes``), each
making the payment follow through the kernel's one payment-call path; a balance a change
left, paid through the payment link (``balance``); a refund's answer and effects, and
what a crash left of them (``refunds``). Not the kernel: the kernel holds the checkout
unit, the order status machine and the order's arithmetic, and never imports this part
(tests/kernel/test_kernel_shape.py). An essential plugin (``aftersale``, like ``ops``:
always loaded) for its one hook, ``mercato_reconcile``; it has no routes or pages. The
admin, the JSON API, returns and fulfilment call it through the public API (``from
mercato import refund_order``), so a plugin never imports another to act on an order.
"""
