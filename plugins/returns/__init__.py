"""Mercato's returns plugin: a customer asks to send back shipped units of an order
within the return window, with a reason; staff approve or refuse, mark the parcel
received (putting back in stock what can be sold again) and refund what was charged for
the units that came back. Every step is kept in the return's history, emailed to the
customer, and (for staff) audited by the admin.

``mercato_returns.hooks`` is its entry point (``returns``); ``services`` holds the
return's state machine and the rules of what may be returned.
"""
