"""The admin's settings (``Settings``) and what its forms and filters accept.

Forms go through ``mercato.validate_form(schema, request.params)``: an empty field
counts as not filled in, so every optional node has a ``missing`` value.
"""

import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import colander

from mercato import ORDER_STATUSES, ROLES
from mercato import email_field as _email
from mercato import no_control_characters as _no_control_characters
from mercato import strip_whitespace as _strip


def _time_zone(node, value):
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise colander.Invalid(
            node, f"{value!r} is not a time zone: use an IANA name such as Europe/Paris or UTC"
        ) from None


class Settings(colander.MappingSchema):
    """``mercato.admin.*``"""

    timezone = colander.SchemaNode(
        colander.String(),
        missing="UTC",
        preparer=_strip,
        validator=_time_zone,
        env="MERCATO_TIMEZONE",
        description='where the dashboard\'s "today" and "this month" begin (an IANA zone)',
    )


STAFF_ROLES = ("staff", "admin")


def _text(title: str, max_length: int):
    """An optional line of text; empty when not filled in."""
    return colander.SchemaNode(
        colander.String(),
        title=title,
        preparer=_strip,
        missing="",
        validator=colander.All(colander.Length(max=max_length), _no_control_characters),
    )


def _page():
    return colander.SchemaNode(
        colander.Int(),
        title="Page",
        missing=1,
        validator=colander.Range(min=1, max=100_000, min_err="Pages start at 1."),
    )


def _web_address(node, value):
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise colander.Invalid(node, "Give the full address, starting with https://.")


class OrderFilters(colander.MappingSchema):
    q = _text("Number or email", 254)
    status = colander.SchemaNode(
        colander.String(),
        title="Status",
        missing="",
        validator=colander.OneOf(ORDER_STATUSES, msg_err="Choose a status from the list."),
    )
    date_from = colander.SchemaNode(colander.Date(), title="From", missing=None)
    date_to = colander.SchemaNode(colander.Date(), title="To", missing=None)
    customer = colander.SchemaNode(
        colander.Int(), title="Customer", missing=None, validator=colander.Range(min=1)
    )
    page = _page()

    def validator(self, form, value):
        if value["date_from"] and value["date_to"] and value["date_from"] > value["date_to"]:
            error = colander.Invalid(form)
            error["date_to"] = "The end date is before the start date."
            raise error


class SearchFilters(colander.MappingSchema):
    q = _text("Search", 254)
    page = _page()


class AuditFilters(colander.MappingSchema):
    q = _text("Who, action or object", 254)
    object_type = _text("Object type", 50)
    object_id = _text("Object", 200)
    page = _page()


class ReasonForm(colander.MappingSchema):
    reason = _text("Reason", 500)


class FulfilForm(colander.MappingSchema):
    tracking_number = _text("Tracking number", 100)
    tracking_url = colander.SchemaNode(
        colander.String(),
        title="Tracking link",
        preparer=_strip,
        missing="",
        validator=colander.All(colander.Length(max=500), _web_address),
    )


# The one-time key a form carries (``request_key``): the same key posted twice (a
# double click, a resubmitted page) is one refund. Printable ASCII, as the kernel keeps
# at most 64 characters of it.
REQUEST_KEY = re.compile(r"[!-~]{1,64}\Z")


def _request_key():
    return colander.SchemaNode(
        colander.String(),
        name="request_key",
        missing="",
        validator=colander.Regex(
            REQUEST_KEY, "This form is out of date: reload the page and try again."
        ),
    )


class RefundForm(colander.MappingSchema):
    """A refund by parts (units of each line, the shipping: the amount is computed and
    may be lowered) or by amount. ``mercato_admin.refunds`` reads it."""

    # Read into Money by the view, in the order's currency; empty: the computed amount.
    amount = colander.SchemaNode(
        colander.String(),
        title="Amount",
        preparer=_strip,
        validator=colander.Length(max=30),
        missing="",
    )
    reason = _text("Reason", 500)
    restock = colander.SchemaNode(
        colander.Boolean(), title="Put the refunded units back in stock", missing=False
    )
    request_key = _request_key()

    def __init__(self, lines=(), shipping=False, **kw):
        super().__init__(**kw)
        if shipping:
            self.add(colander.SchemaNode(colander.Boolean(), name="shipping", missing=False))
        for line in lines:
            # How many units of the line are refunded, and how many go back in stock
            # (0: none). What the order holds is the kernel's to check.
            self.add(_units(refund_field(line), f"{line.name} refunded", "Refund"))
            self.add(_units(restock_field(line), f"{line.name} back in stock", "Put back"))


def _units(name: str, title: str, verb: str):
    return colander.SchemaNode(
        colander.Int(),
        name=name,
        title=title,
        missing=0,
        validator=colander.Range(min=0, min_err=f"{verb} 0 or more."),
    )


def refund_field(line) -> str:
    """The refund form's field for how many units of ``line`` are refunded."""
    return f"refund-{line.position}"


def restock_field(line) -> str:
    """The refund form's field for how many units of ``line`` go back in stock."""
    return f"restock-{line.position}"


# Field names the refund form makes per line or for the shipping: one the order's form
# did not make (a line of another order, a page out of date) refuses the whole post.
PER_ORDER_FIELD = re.compile(r"^(?:refund-|restock-|shipping$)")


class CancelLinesForm(colander.MappingSchema):
    """Units not shipped yet that will not ship: how many of each line, and why."""

    reason = _text("Reason", 500)
    request_key = _request_key()

    def __init__(self, lines=(), **kw):
        super().__init__(**kw)
        for line in lines:
            self.add(_units(cancel_field(line), f"{line.name} cancelled", "Cancel"))


class ChangeForm(colander.MappingSchema):
    """Units to add to an order that has not shipped: a SKU, how many, and why."""

    sku = _text("SKU", 64)
    quantity = _units("quantity", "Quantity", "Add")
    reason = _text("Reason", 500)
    request_key = _request_key()


def cancel_field(line) -> str:
    """The cancel form's field for how many units of ``line`` will not ship."""
    return f"cancel-{line.position}"


# The cancel form's per-line fields (see ``PER_ORDER_FIELD``).
CANCEL_LINE_FIELD = re.compile(r"^cancel-")


class InviteForm(colander.MappingSchema):
    email = _email()
    name = colander.SchemaNode(
        colander.String(),
        title="Name",
        preparer=_strip,
        validator=colander.All(colander.Length(min=1, max=100), _no_control_characters),
        missing_msg="Please fill this in.",
    )
    role = colander.SchemaNode(
        colander.String(),
        title="Role",
        validator=colander.OneOf(STAFF_ROLES, msg_err="Choose staff or admin."),
        missing_msg="Choose staff or admin.",
    )


class RoleForm(colander.MappingSchema):
    role = colander.SchemaNode(
        colander.String(),
        title="Role",
        validator=colander.OneOf(ROLES, msg_err="Choose customer, staff or admin."),
        missing_msg="Choose customer, staff or admin.",
    )


class EraseForm(colander.MappingSchema):
    confirm = colander.SchemaNode(
        colander.String(),
        title="The customer's email",
        preparer=_strip,
        missing_msg="Type the customer's email to confirm.",
    )


class ActiveForm(colander.MappingSchema):
    active = colander.SchemaNode(colander.Boolean(), title="Active", missing=False)
