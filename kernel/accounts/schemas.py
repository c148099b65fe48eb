"""Colander schemas for the account forms, and ``validate`` that turns a form post into
clean values or per-field messages."""

import colander
from babel import Locale

PASSWORD_MIN = 8
# Long passphrases are welcome (see passwords.py); the cap only keeps a megabyte
# "password" from costing a megabyte of hashing.
PASSWORD_MAX = 1024


def _strip(value):
    # Blank after stripping counts as not filled in, so the "missing" rule applies.
    if isinstance(value, str):
        return value.strip() or colander.null
    return value


def _no_control_characters(node, value):
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise colander.Invalid(node, "Please remove line breaks and special characters.")


def _text(title, max_length, missing=colander.required, min_length=1):
    return colander.SchemaNode(
        colander.String(),
        title=title,
        preparer=_strip,
        missing=missing,
        validator=colander.All(
            colander.Length(min=min_length, max=max_length), _no_control_characters
        ),
        missing_msg="Please fill this in.",
    )


def _email():
    return colander.SchemaNode(
        colander.String(),
        title="Email",
        preparer=_strip,
        validator=colander.All(
            colander.Length(max=254), colander.Email(msg="Please enter a valid email address.")
        ),
        missing_msg="Please enter your email address.",
    )


def _password(title="Password", check_length=True):
    return colander.SchemaNode(
        colander.String(),
        title=title,
        validator=colander.Length(
            min=PASSWORD_MIN if check_length else 1,
            max=PASSWORD_MAX,
            min_err=f"Use at least {PASSWORD_MIN} characters.",
            max_err=f"Use at most {PASSWORD_MAX} characters.",
        ),
        missing_msg="Please enter a password.",
    )


def _passwords_match(form, value):
    if value["password"] != value["password_confirm"]:
        error = colander.Invalid(form)
        error["password_confirm"] = "The two passwords do not match."  # noqa: S105
        raise error


class LoginSchema(colander.MappingSchema):
    email = _email()
    # No length rule at login: a password that was valid when it was set must work.
    password = _password(check_length=False)


class RegisterSchema(colander.MappingSchema):
    name = _text("Name", 100)
    email = _email()
    password = _password()
    password_confirm = _password("Repeat the password", check_length=False)

    def validator(self, form, value):
        _passwords_match(form, value)


class ForgotPasswordSchema(colander.MappingSchema):
    email = _email()


class ResetPasswordSchema(colander.MappingSchema):
    password = _password("New password")
    password_confirm = _password("Repeat the new password", check_length=False)

    def validator(self, form, value):
        _passwords_match(form, value)


class ChangePasswordSchema(colander.MappingSchema):
    current_password = _password("Current password", check_length=False)
    password = _password("New password")
    password_confirm = _password("Repeat the new password", check_length=False)

    def validator(self, form, value):
        _passwords_match(form, value)


class ProfileSchema(colander.MappingSchema):
    name = _text("Name", 100)


# Two-letter CLDR territories that are not places a parcel can go.
NOT_COUNTRIES = {"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"}


def country_names(locale: str = "en_US") -> dict[str, str]:
    """ISO 3166 alpha-2 code → country name in the shop's language, sorted by name."""
    territories = Locale.parse(locale).territories
    countries = {
        code: name
        for code, name in territories.items()
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    }
    return dict(sorted(countries.items(), key=lambda item: item[1]))


class AddressSchema(colander.MappingSchema):
    name = _text("Full name", 100)
    line1 = _text("Address", 200)
    line2 = _text("Address line 2", 200, missing="", min_length=0)
    city = _text("City", 100)
    postal_code = _text("Postal code", 20, missing="", min_length=0)
    region = _text("State or region", 100, missing="", min_length=0)
    country = colander.SchemaNode(
        colander.String(),
        title="Country",
        preparer=lambda v: _strip(v).upper() if isinstance(v, str) and v.strip() else _strip(v),
        validator=colander.OneOf(list(country_names()), msg_err="Please choose a country."),
        missing_msg="Please choose a country.",
    )
    phone = _text("Phone", 40, missing="", min_length=0)


def validate(schema: colander.SchemaNode, data) -> tuple[dict | None, dict[str, str]]:
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
