"""Mercato's shipping plugin: zones of countries and regions, methods per zone with
flat, weight-tiered or order-value-tiered rates, free shipping over a threshold, an
estimate on the cart page and staff pages in the admin.

``mercato_shipping.hooks`` is its entry point (``shipping``); ``services`` says how a
destination finds its zone and how a method is priced.
"""
