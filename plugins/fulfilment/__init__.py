"""Mercato's fulfilment plugin: shipments. Staff ship some lines of a paid order now and
the rest later, each parcel with its carrier and tracking number; the customer gets an
email per parcel with its tracking link and sees every parcel on their order page.

``mercato_fulfilment.hooks`` is its entry point (``fulfilment``); ``services`` records a
shipment (``mercato.ship_order_lines`` counts the units and moves the order to
``partially_fulfilled`` / ``fulfilled``), ``carriers`` turns the carrier setting into
tracking links.
"""
