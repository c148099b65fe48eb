"""The plugin's settings, and what an admin sends in the endpoint form, checked before
anything is saved: ``read_endpoint_form`` returns clean values and ``{field: message}``
for what is wrong."""

import colander

from mercato import text_field, validate_form

from .events import EVENT_TYPES
from .targets import TargetRefused, check_syntax, check_target

DAY = 86_400


class Settings(colander.MappingSchema):
    """``mercato.webhooks.*``"""

    timeout = colander.SchemaNode(
        colander.Float(),
        missing=5.0,
        validator=colander.Range(0.1, 30),
        description="seconds a receiver has to answer one POST",
    )
    first_retry = colander.SchemaNode(
        colander.Float(),
        missing=30.0,
        validator=colander.Range(0.01, 3600),
        description="seconds before the first retry; each next one waits twice as long",
    )
    longest_retry = colander.SchemaNode(
        colander.Float(),
        missing=3600.0,
        validator=colander.Range(0.01, DAY),
        description="the longest wait between two attempts",
    )
    give_up_after = colander.SchemaNode(
        colander.Float(),
        missing=float(DAY),
        validator=colander.Range(1, 7 * DAY),
        description="seconds after the event when a delivery still failing is dead",
    )
    keep_days = colander.SchemaNode(
        colander.Int(),
        missing=30,
        validator=colander.Range(1, 3650),
        description="days an event and its delivery log are kept once no delivery is "
        "pending (mercato worker deletes older ones)",
    )
    allow_private_targets = colander.SchemaNode(
        colander.Boolean(),
        missing=False,
        description="let endpoints be on loopback or private networks (development, "
        "tests, an ERP on the LAN); link-local and metadata addresses stay refused",
    )


class EndpointForm(colander.MappingSchema):
    url = colander.SchemaNode(colander.String(), missing="", title="URL")
    description = text_field("Description", 200, missing="")
    enabled = colander.SchemaNode(colander.Boolean(), missing=False)


def read_endpoint_form(post, allow_private: bool) -> tuple[dict | None, dict[str, str]]:
    values, errors = validate_form(EndpointForm(), post)
    try:
        url = check_syntax(post.get("url", ""))
        check_target(url, allow_private)
    except TargetRefused as exc:
        errors["url"] = str(exc)
    events = post.getall("events")
    unknown = [name for name in events if name not in EVENT_TYPES]
    if unknown:
        errors["events"] = f"Unknown event: {unknown[0][:40]}. Choose events from the list."
    elif not events:
        errors["events"] = "Choose at least one event to send."
    if errors:
        return None, errors
    ordered = [name for name in EVENT_TYPES if name in events]
    return {**values, "url": url, "events": ordered}, {}


def endpoint_form_values(post) -> dict:
    """What the admin typed, to show again next to the errors."""
    return {
        "url": post.get("url", "")[:2000],
        "description": post.get("description", "")[:200],
        "enabled": post.get("enabled") == "true",
        "events": [name for name in post.getall("events") if name in EVENT_TYPES],
    }
