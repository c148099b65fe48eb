"""Notifications: the kernel's outbox delivered as email over SMTP.

The kernel records each event (``order.placed``, ``account.password_reset`` …) with
the change that caused it and calls ``mercato_notify`` once that change has committed;
this plugin renders the event's text and HTML templates and sends them to
``payload["email"]``. An event without templates sends nothing, so a store owner adds
an email for any event by dropping a template pair into their folder.
"""
