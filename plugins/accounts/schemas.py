"""Colander schemas: the accounts plugin's settings, and the account forms (read
through ``mercato.validate_form``)."""

import colander

from mercato import DEFAULT_ROUNDS, countries
from mercato import email_field as _email
from mercato import strip_whitespace as _strip
from mercato import text_field as _text


class Settings(colander.MappingSchema):
    """``mercato.accounts.*``"""

    bcrypt_rounds = colander.SchemaNode(
        colander.Int(),
        missing=DEFAULT_ROUNDS,
        validator=colander.Range(min=4, max=31),
        description="bcrypt cost of new password hashes (12 recommended; 4 for tests)",
    )
    reset_token_ttl = colander.SchemaNode(
        colander.Int(),
        missing=3600,
        validator=colander.Range(min=1),
        description="seconds a password reset link stays valid",
    )


PASSWORD_MIN = 8
# Long passphrases are welcome (see passwords.py); the cap only keeps a megabyte
# "password" from costing a megabyte of hashing.
PASSWORD_MAX = 1024


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


class EraseAccountSchema(colander.MappingSchema):
    password = _password("Your password", check_length=False)


class ProfileSchema(colander.MappingSchema):
    name = _text("Name", 100)


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
        # The countries checkout accepts (mercato.countries): a saved address is one a
        # shopper can ship to.
        validator=colander.OneOf(
            [code for code, _name in countries()], msg_err="Please choose a country."
        ),
        missing_msg="Please choose a country.",
    )
    phone = _text("Phone", 40, missing="", min_length=0)
