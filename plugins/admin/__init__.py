"""The back office under ``/admin``: dashboard, orders, customers, staff, plugins,
outbox and the audit log of every staff action (the ``admin`` plugin, on by default).

``hooks`` (the entry point: settings, permissions, wiring), ``routes``, ``views``,
``services`` (dashboard figures, audit, order actions, staff accounts), ``schemas``
(the settings and the forms), ``navigation`` (the menu, joined by plugins through
``mercato_admin_links``), ``models`` (the audit log), ``exports`` (the orders page's
orders, or their lines, as CSV files for the books). Every page needs ``admin.access``
(staff and admins), order actions ``orders.manage``, staff accounts ``staff.manage``
and erasing a customer at their request ``customers.erase`` (admins); a guest is sent
to the login page, a customer gets 403.

Settings: ``mercato.admin.timezone`` (an IANA zone, default ``UTC``, or
``MERCATO_TIMEZONE``): where the dashboard's "today" and "this month" begin and end,
and the time zone of the orders' export.
"""
