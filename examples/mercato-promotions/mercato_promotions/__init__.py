"""Discount codes for Mercato, published as a third-party plugin.

A shopper types a code on the cart page; ``mercato_price_adjustments`` turns it into a
discount line (a percentage or a fixed amount, above a minimum order, between a start
and an expiry date); ``mercato_order_placed`` counts the use with a guarded UPDATE so a
code limited to N uses is never used N + 1 times, however many checkouts race for it.
Staff manage codes under ``/admin/promotions``.

Everything is reached through ``mercato.hookspecs``: see ``hooks.py``.
"""
