"""A shop's own plugin (enabled by dotted name) that joins the admin: a menu link only
admins may follow, and two dashboard panels, one trusted HTML and one plain text."""

from markupsafe import Markup

from mercato import AdminLink, hookimpl


@hookimpl
def mercato_admin_links(request):
    return [
        AdminLink("Payouts", "/admin/payouts", "staff.manage"),
        ("Suppliers", "/admin/suppliers", "admin.access"),
    ]


@hookimpl
def mercato_admin_widgets(request):
    return [
        Markup("<h2>Payouts</h2><p class='payout'>Next payout on Friday</p>"),
        "<script>alert('plain text is escaped')</script>",
    ]
