"""Mercato's outbound webhooks: admins register endpoints (a URL, the events it wants,
a signing secret shown once); orders placed, paid, shipped, refunded and cancelled,
stock running low and products changed are recorded in the transaction of the change
and POSTed after the commit, signed like Stripe's (``Mercato-Signature``), retried with
exponential backoff for a day by ``mercato worker``, each attempt in a delivery log
that staff see in the admin, with a retry button.

``mercato_webhooks.hooks`` is its entry point (``webhooks``); ``events`` records what
happened, ``delivery`` sends it, ``verify`` is what a receiver runs (docs/webhooks.md).
"""
