"""The plugin's settings and what customers and staff send in its forms and JSON.

Every reader returns clean values or raises ``BadInput`` with a sentence for people and
the field it belongs to: a 400, nothing saved.
"""

import re

import colander

from mercato import Money

DEFAULT_REASONS = (
    "Too small",
    "Too large",
    "Not as described",
    "Arrived damaged",
    "Wrong item sent",
    "Changed my mind",
    "Other",
)
MAX_DETAILS = 1000  # characters of the customer's own words
MAX_MESSAGE = 1000  # characters of a staff message to the customer
MAX_UNITS = 10_000  # far above any line of an order, far below an integer overflow
WHOLE = re.compile(r"^\d{1,5}$")
# Text from a textarea keeps its line breaks and tabs; other control characters (NUL …)
# are refused.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _reasons(value):
    """One reason a line (a multi-line ini value) or separated by ``;``."""
    if not isinstance(value, str):
        return value
    return [part.strip() for part in re.split(r"[\n;]", value) if part.strip()]


def _valid_reasons(node, value):
    if not value:
        raise colander.Invalid(node, "give at least one reason")
    if any(len(reason) > 100 for reason in value):
        raise colander.Invalid(node, "a reason is at most 100 characters")


class Settings(colander.MappingSchema):
    """``mercato.returns.*``"""

    window_days = colander.SchemaNode(
        colander.Int(),
        missing=30,
        validator=colander.Range(min=0, max=3650),
        description="days after the order's last shipment when its customer may still "
        "ask to return it (0: returns are off)",
    )
    reasons = colander.SchemaNode(
        colander.String(),
        missing=list(DEFAULT_REASONS),
        preparer=_reasons,
        validator=_valid_reasons,
        description="the reasons a customer chooses from, one a line (or separated by ;)",
    )


class BadInput(Exception):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


def _text(value, field: str, title: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadInput(f"{title} must be text.", field)
    value = value.strip()
    if len(value) > max_length:
        raise BadInput(
            f"{title} is at most {max_length} characters (you wrote {len(value)}).", field
        )
    if CONTROL.search(value):
        raise BadInput(f"{title} has characters we cannot keep: please write plain text.", field)
    return value


def units(value, field: str) -> int:
    """A number of units typed in a form (``"2"``, ``""`` for 0) or sent as JSON (``2``)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise BadInput("Write a whole number of items, like 1.", field)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and WHOLE.match(value.strip()):
        number = int(value.strip())
    else:
        raise BadInput("Write a whole number of items, like 1 (0 or more).", field)
    if not 0 <= number <= MAX_UNITS:
        raise BadInput("Write a whole number of items, like 1 (0 or more).", field)
    return number


def form_units(post, prefix: str) -> dict[str, str]:
    """``{sku: typed}`` of a form's ``<prefix>.<sku>`` fields."""
    return {name[len(prefix) + 1 :]: post[name] for name in post if name.startswith(prefix + ".")}


def json_units(body: dict, key: str = "lines", field: str = "quantity") -> dict[str, object]:
    """``{sku: value}`` from ``[{"sku": …, field: …}]``."""
    lines = body.get(key, [])
    if not isinstance(lines, list) or len(lines) > 500:
        raise BadInput(f'Send "{key}" as a list like [{{"sku": "TEE", "{field}": 1}}].', key)
    found = {}
    for line in lines:
        if not isinstance(line, dict) or not isinstance(line.get("sku"), str):
            raise BadInput(f'Each of "{key}" needs a "sku" and a "{field}".', key)
        if line["sku"] in found:
            raise BadInput(f"{line['sku'][:64]} is named twice.", key)
        found[line["sku"]] = line.get(field)
    return found


def read_request(typed_units: dict, reason, details, reasons: list[str]) -> dict:
    """The customer's request: ``{"units": {sku: n}, "reason", "details"}``, units of 0
    left out (the SKUs are checked against the order by ``services``)."""
    wanted = {}
    for sku, value in typed_units.items():
        count = units(value, f"quantity.{sku}")
        if count:
            wanted[sku] = count
    if not wanted:
        raise BadInput("Choose how many of which items you want to send back.", "lines")
    if not isinstance(reason, str) or reason not in reasons:
        raise BadInput("Choose a reason from the list.", "reason")
    return {
        "units": wanted,
        "reason": reason,
        "details": _text(details, "details", "Your comment", MAX_DETAILS),
    }


def read_message(value, required: bool) -> str:
    message = _text(value, "message", "The message", MAX_MESSAGE)
    if required and not message:
        raise BadInput("Tell the customer why, in a sentence.", "message")
    return message


def read_amount(value, currency: str) -> Money | None:
    """A typed refund amount (``"12.50"``), or None when left empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 20:
        raise BadInput(f"Write the amount in {currency}, such as 12.50.", "amount")
    try:
        amount = Money.parse(value.strip(), currency)
    except ValueError:
        raise BadInput(f"Write the amount in {currency}, such as 12.50.", "amount") from None
    if amount.amount <= 0:
        raise BadInput("A refund must be more than zero.", "amount")
    return amount


def read_reason(value) -> str:
    return _text(value, "reason", "The reason", 500)
