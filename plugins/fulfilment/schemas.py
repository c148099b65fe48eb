"""The plugin's settings, and what staff send to ship a parcel: the admin's form and
the staff JSON API, read into a ``Parcel`` or a message naming the field at fault.

Quantities are checked here against what is left to ship, so staff see the reason
next to the line; the kernel checks again under the order's row lock
(``mercato.ship_order_lines``), which is what holds when two people ship at once.
"""

import re
from dataclasses import dataclass

import colander

from mercato import strip_whitespace, validate_form

from . import carriers

TRACKING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]*$")
MAX_TRACKING = 64
QUANTITY = re.compile(r"^\d{1,6}$")
# The admin form's nonce, and the API's Idempotency-Key.
KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
QUANTITY_FIELD = "quantity-"


class Settings(colander.MappingSchema):
    """``mercato.fulfilment.*``"""

    carriers = colander.SchemaNode(
        carriers.CarriersSetting(),
        missing=carriers.parse(carriers.DEFAULT),
        description="code=URL pairs; {tracking} in the URL is the tracking number",
    )


@dataclass(frozen=True)
class Parcel:
    """A shipment asked for: ``units`` ``{sku: quantity}``, or ``None`` for every unit
    left; ``request_key`` makes asking twice record it once."""

    units: dict[str, int] | None
    carrier: str
    tracking_number: str
    request_key: str | None


class BadParcel(Exception):
    def __init__(self, message: str, field: str | None = None, sku: str | None = None):
        super().__init__(message)
        self.message, self.field, self.sku = message, field, sku


def _tracking(node, value):
    if not TRACKING.match(value):
        raise colander.Invalid(
            node, "Use the letters, digits, spaces, dots, slashes and dashes of the number."
        )


class ParcelForm(colander.MappingSchema):
    carrier = colander.SchemaNode(colander.String(), missing_msg="Choose a carrier.")
    tracking_number = colander.SchemaNode(
        colander.String(),
        preparer=strip_whitespace,
        missing="",
        validator=colander.All(
            colander.Length(
                max=MAX_TRACKING,
                max_err=f"A tracking number has at most {MAX_TRACKING} characters.",
            ),
            _tracking,
        ),
    )

    def __init__(self, codes, **kw):
        super().__init__(**kw)
        self["carrier"].validator = colander.OneOf(
            list(codes), msg_err="Choose a carrier from the list."
        )


def _left(order) -> dict[str, int]:
    left: dict[str, int] = {}
    for line in order.lines:
        left[line.sku] = left.get(line.sku, 0) + line.quantity_to_ship
    return left


def _names(order) -> dict[str, str]:
    return {line.sku: line.name for line in order.lines}


def check_units(order, units: dict[str, int]) -> None:
    """``BadParcel`` for a SKU the order lacks or more than is left of it."""
    left, names = _left(order), _names(order)
    for sku, quantity in units.items():
        if sku not in left:
            raise BadParcel(f"Order {order.number} has no {sku[:64]}.", "lines", sku[:64])
        if quantity > left[sku]:
            raise BadParcel(
                f"Only {left[sku]} × {names[sku]} {'is' if left[sku] == 1 else 'are'} "
                "left to ship.",
                "lines",
                sku,
            )
    if not any(units.values()):
        raise BadParcel("Choose at least one unit to ship.", "lines")


# ---------------------------------------------------------------------------
# The admin's form: a quantity field per line (``quantity-<line id>``), a carrier,
# a tracking number and a nonce
# ---------------------------------------------------------------------------


def quantity_field(line) -> str:
    return f"{QUANTITY_FIELD}{line.id}"


def read_form(post, order, codes) -> tuple[Parcel | None, dict[str, str]]:
    """``(parcel, {})`` or ``(None, {field: message})``; ``"form"`` holds what is wrong
    with the form as a whole."""
    values, errors = validate_form(ParcelForm(codes), post)
    fields = {quantity_field(line): line for line in order.lines}
    foreign = [key for key in post if key.startswith(QUANTITY_FIELD) and key not in fields]
    if foreign:
        errors["form"] = (
            f"This form names lines that order {order.number} does not have: "
            "reload the order's page and try again. Nothing was shipped."
        )
    nonce = post.get("nonce", "")
    if nonce and not KEY.match(nonce):
        errors["form"] = "This form is damaged: reload the order's page and try again."
    units: dict[str, int] = {}
    for name, line in fields.items():
        typed = post.get(name, "").strip() or "0"
        if not QUANTITY.match(typed):
            errors[name] = "Give a whole number of units, 0 or more."
            continue
        units[line.sku] = units.get(line.sku, 0) + int(typed)
    if not any(key == "form" or key.startswith(QUANTITY_FIELD) for key in errors):
        try:
            check_units(order, units)
        except BadParcel as exc:
            field = next((name for name, line in fields.items() if line.sku == exc.sku), "lines")
            errors[field] = exc.message
    if errors:
        return None, errors
    units = {sku: quantity for sku, quantity in units.items() if quantity}
    return Parcel(units, values["carrier"], values["tracking_number"], nonce or None), {}


# ---------------------------------------------------------------------------
# The staff JSON API: {"lines": [{"sku", "quantity"}] (optional), "carrier",
# "tracking_number"}, and the Idempotency-Key header
# ---------------------------------------------------------------------------


def _units_of(order, lines) -> dict[str, int]:
    if not isinstance(lines, list) or not lines:
        raise BadParcel(
            'Send "lines" as a list like [{"sku": "TEE", "quantity": 1}], '
            "or leave it out to ship everything left.",
            "lines",
        )
    units: dict[str, int] = {}
    for line in lines:
        sku = line.get("sku") if isinstance(line, dict) else None
        quantity = line.get("quantity") if isinstance(line, dict) else None
        if not isinstance(sku, str) or not sku:
            raise BadParcel("Give the sku of each line to ship.", "lines")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise BadParcel(f"Ship a whole number of units of {sku[:64]}, 1 or more.", "lines")
        if sku in units:
            raise BadParcel(f"{sku[:64]} is listed twice: give each sku once.", "lines", sku[:64])
        units[sku] = quantity
    check_units(order, units)
    return units


def read_json(body, order, codes, key: str | None) -> Parcel:
    if not isinstance(body, dict):
        raise BadParcel(
            'Send the shipment as a JSON object like {"carrier": "dhl", '
            '"tracking_number": "…", "lines": [{"sku": "TEE", "quantity": 1}]}.'
        )
    if key is not None and not KEY.match(key):
        raise BadParcel(
            "The Idempotency-Key header must be 8 to 64 letters, digits, - or _.",
            "Idempotency-Key",
        )
    # Without "lines", everything left ships (the kernel says so when nothing is).
    units = _units_of(order, body["lines"]) if body.get("lines") is not None else None
    typed = {
        name: body[name]
        for name in ("carrier", "tracking_number")
        if isinstance(body.get(name), str)
    }
    for name in ("carrier", "tracking_number"):
        if name in body and body[name] is not None and name not in typed:
            raise BadParcel(f'Send "{name}" as a string.', name)
    values, errors = validate_form(ParcelForm(codes), typed)
    if errors:
        field, message = next(iter(errors.items()))
        raise BadParcel(message, field)
    return Parcel(units, values["carrier"], values["tracking_number"], key)
