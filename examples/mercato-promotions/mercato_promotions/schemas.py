"""Colander schemas: the plugin's settings, and the staff form for a discount code."""

from decimal import Decimal, InvalidOperation

import colander

from mercato import Money

from .models import FIXED, PERCENT
from .services import CODE_PATTERN, normalise


class PromotionsSettings(colander.MappingSchema):
    """``mercato.promotions.*`` in the ini file."""

    # The discount line reads "<label> <CODE>" in the cart, checkout and order.
    label = colander.SchemaNode(
        colander.String(), missing="Discount", validator=colander.Length(1, 40)
    )


class CodeForm(colander.MappingSchema):
    code = colander.SchemaNode(
        colander.String(),
        preparer=normalise,
        validator=colander.Regex(CODE_PATTERN, "Use 3 to 32 letters, digits, - or _."),
    )
    description = colander.SchemaNode(
        colander.String(), missing="", validator=colander.Length(max=200)
    )
    kind = colander.SchemaNode(
        colander.String(),
        validator=colander.OneOf([PERCENT, FIXED]),
    )
    value = colander.SchemaNode(colander.String())
    minimum_order = colander.SchemaNode(colander.String(), missing="")
    starts_at = colander.SchemaNode(colander.DateTime(), missing=None)
    expires_at = colander.SchemaNode(colander.DateTime(), missing=None)
    max_uses = colander.SchemaNode(colander.Integer(), missing=None, validator=colander.Range(1))
    active = colander.SchemaNode(colander.Boolean(), missing=False)


def read_code_form(data, currency: str) -> tuple[dict, dict[str, str]]:
    """Model values and per-field error messages from a posted staff form."""
    try:
        form = CodeForm().deserialize(dict(data))
    except colander.Invalid as exc:
        return {}, exc.asdict()
    errors = {}
    values = {
        "code": form["code"],
        "description": form["description"],
        "kind": form["kind"],
        "percent": None,
        "amount": None,
        "currency": currency,
        "minimum_order": 0,
        "starts_at": form["starts_at"],
        "expires_at": form["expires_at"],
        "max_uses": form["max_uses"],
        "active": form["active"],
    }
    if form["kind"] == PERCENT:
        try:
            percent = Decimal(form["value"].strip())
        except InvalidOperation:
            percent = None
        valid = percent is not None and percent.is_finite() and 0 < percent <= 100
        if not valid or percent != round(percent, 2):
            errors["value"] = "Give a percentage above 0 and at most 100, like 10 or 12.5."
        values["percent"] = percent
    else:
        try:
            amount = Money.parse(form["value"], currency)
        except ValueError:
            amount = None
        if amount is None or amount.amount <= 0:
            errors["value"] = f"Give an amount in {currency} above zero, like 5.00."
        else:
            values["amount"] = amount.amount
    if form["minimum_order"].strip():
        try:
            values["minimum_order"] = Money.parse(form["minimum_order"], currency).amount
        except ValueError:
            errors["minimum_order"] = (
                f"Give an amount in {currency}, like 50.00, or leave it empty."
            )
        else:
            if values["minimum_order"] < 0:
                errors["minimum_order"] = "The minimum order cannot be negative."
    if form["starts_at"] and form["expires_at"] and form["expires_at"] <= form["starts_at"]:
        errors["expires_at"] = "The code must expire after it starts."
    return values, errors
