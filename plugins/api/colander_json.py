"""colander schemas as JSON Schema, so that a plugin documents a request body with the
very schema that validates it (one source of truth).

Only what colander states declaratively is carried over: the types, which fields are
required, lengths, ranges, choices, patterns, titles. Validators written as functions
(a country from a list, passwords that match) stay the server's to check; the body
the document describes may therefore be refused with a 400 that names the field.
"""

import colander

SCALARS = (
    (colander.Boolean, {"type": "boolean"}),
    # Before Number: colander.Int is a Number.
    (colander.Int, {"type": "integer"}),
    (colander.Float, {"type": "number"}),
    # Amounts travel as decimal strings ("12.50"), never as floats.
    (colander.Decimal, {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}),
    (colander.String, {"type": "string"}),
    (colander.DateTime, {"type": "string", "format": "date-time"}),
    (colander.Date, {"type": "string", "format": "date"}),
)


def to_json_schema(node: colander.SchemaNode) -> dict:
    """The JSON Schema (2020-12) of ``node`` and its children."""
    kind = node.typ
    if isinstance(kind, colander.Mapping):
        schema = {"type": "object", "properties": {}}
        required = []
        for child in node.children:
            schema["properties"][child.name] = to_json_schema(child)
            if child.missing is colander.required:
                required.append(child.name)
        if required:
            schema["required"] = required
    elif isinstance(kind, colander.Sequence | colander.List):
        schema = {"type": "array"}
        if node.children:
            schema["items"] = to_json_schema(node.children[0])
    else:
        # A type of the plugin's own: any JSON value, narrowed by its validators.
        schema = next((dict(json) for typ, json in SCALARS if isinstance(kind, typ)), {})
    if node.title and node.title != node.name.replace("_", " ").title():
        schema["title"] = node.title
    if node.description:
        schema["description"] = node.description
    _validator(node.validator, schema)
    return schema


def _validator(validator, schema: dict) -> None:
    if isinstance(validator, colander.All):
        for each in validator.validators:
            _validator(each, schema)
    elif isinstance(validator, colander.Length):
        word = "Items" if schema.get("type") == "array" else "Length"
        if validator.min is not None:
            schema[f"min{word}"] = validator.min
        if validator.max is not None:
            schema[f"max{word}"] = validator.max
    elif isinstance(validator, colander.Range):
        if validator.min is not None:
            schema["minimum"] = validator.min
        if validator.max is not None:
            schema["maximum"] = validator.max
    elif isinstance(validator, colander.OneOf):
        schema["enum"] = list(validator.choices)
    elif isinstance(validator, colander.Email):
        schema["format"] = "email"
    elif isinstance(validator, colander.Regex):
        schema["pattern"] = validator.match_object.pattern
