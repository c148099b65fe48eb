"""Forms every plugin's pages share: text and email fields that strip what was typed and
refuse control characters, ``validate_form`` that turns a form post (or a JSON dict)
into clean values or per-field messages, and ``kept_values`` to show what was typed
again next to those messages."""

import colander


def strip_whitespace(value):
    # Blank after stripping counts as not filled in, so the "missing" rule applies.
    if isinstance(value, str):
        return value.strip() or colander.null
    return value


def no_control_characters(node, value):
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise colander.Invalid(node, "Please remove line breaks and special characters.")


def text_field(title, max_length, missing=colander.required, min_length=1):
    return colander.SchemaNode(
        colander.String(),
        title=title,
        preparer=strip_whitespace,
        missing=missing,
        validator=colander.All(
            colander.Length(min=min_length, max=max_length), no_control_characters
        ),
        missing_msg="Please fill this in.",
    )


def email_field():
    return colander.SchemaNode(
        colander.String(),
        title="Email",
        preparer=strip_whitespace,
        validator=colander.All(
            colander.Length(max=254), colander.Email(msg="Please enter a valid email address.")
        ),
        missing_msg="Please enter your email address.",
    )


def validate_form(schema: colander.SchemaNode, data) -> tuple[dict | None, dict[str, str]]:
    """``(values, {})`` when ``data`` (a form post or a JSON dict) is valid, else
    ``(None, {field: message})``. Only the schema's fields are read."""
    cstruct = {}
    for node in schema.children:
        value = data.get(node.name)
        cstruct[node.name] = value if isinstance(value, str) and value != "" else colander.null
    try:
        return schema.deserialize(cstruct), {}
    except colander.Invalid as exc:
        return None, {key: message for key, message in exc.asdict().items()}


def kept_values(data, schema: colander.SchemaNode) -> dict[str, str]:
    """What the person typed, to show again next to the errors (never passwords)."""
    return {
        node.name: data.get(node.name, "")
        for node in schema.children
        if "password" not in node.name and isinstance(data.get(node.name, ""), str)
    }
