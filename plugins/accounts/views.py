"""Account pages (log in, register, password, profile, addresses) and the JSON login.

Every form carries the session's CSRF token; a form with errors comes back with a
message next to each field, what was typed kept (never a password), and status 400
(so the request's transaction is aborted).
"""

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from mercato import (
    Address,
    EmailTaken,
    create_user,
    kept_values,
    rate_limit,
    remember_user,
    safe_next,
    set_password,
    user_for_reset_token,
)
from mercato import validate_form as validate

from . import services
from .schemas import (
    AddressSchema,
    ChangePasswordSchema,
    EraseAccountSchema,
    ForgotPasswordSchema,
    LoginSchema,
    ProfileSchema,
    RegisterSchema,
    ResetPasswordSchema,
)

LOGIN_FAILED = "Email or password is incorrect."
RESET_SENT = (
    "If an account exists for that email, we have sent a link to reset its password. "
    "It is valid for {minutes} minutes."
)
RESET_LINK_INVALID = (
    "This password reset link is invalid, has expired or has already been used. "
    "Please ask for a new one."
)


def _form_failed(request, schema, errors, **extra):
    request.response.status_int = 400
    return {"values": kept_values(request.POST, schema), "errors": errors, **extra}


def _private(request):
    # Pages with personal data must not be kept by a shared cache or the back button.
    request.response.cache_control.no_store = True
    request.response.cache_control.private = True


def _rounds(request) -> int:
    return services.settings_of(request.registry)["bcrypt_rounds"]


def _after_login(request) -> str:
    return safe_next(request, request.params.get("next"), request.route_path("account"))


# ---------------------------------------------------------------------------
# Log in, log out, register
# ---------------------------------------------------------------------------


@view_config(route_name="login", renderer="accounts/login.jinja2", request_method="GET")
def login_form(request):
    if request.user is not None:
        return HTTPSeeOther(location=_after_login(request))
    _private(request)
    return {"values": {}, "errors": {}, "next": request.params.get("next", "")}


@view_config(route_name="login", renderer="accounts/login.jinja2", request_method="POST")
def login(request):
    _private(request)
    schema = LoginSchema()
    next_path = request.POST.get("next", "")
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, schema, errors, next=next_path)
    user = services.authenticate(request, values["email"], values["password"])
    if user is None:
        return _form_failed(request, schema, {}, form_error=LOGIN_FAILED, next=next_path)
    services.log_in(request, user)
    return HTTPSeeOther(location=_after_login(request))


@view_config(route_name="logout", request_method="POST")
def logout(request):
    services.log_out(request)
    return HTTPSeeOther(location=request.route_path("home"))


@view_config(route_name="register", renderer="accounts/register.jinja2", request_method="GET")
def register_form(request):
    if request.user is not None:
        return HTTPSeeOther(location=_after_login(request))
    _private(request)
    return {"values": {}, "errors": {}, "next": request.params.get("next", "")}


@view_config(route_name="register", renderer="accounts/register.jinja2", request_method="POST")
def register(request):
    _private(request)
    schema = RegisterSchema()
    next_path = request.POST.get("next", "")
    rate_limit(request, "register")
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, schema, errors, next=next_path)
    try:
        user = create_user(
            request.dbsession,
            values["email"],
            values["password"],
            name=values["name"],
            rounds=_rounds(request),
        )
    except EmailTaken:
        return _form_failed(
            request,
            schema,
            {"email": "An account with this email exists. Log in, or reset its password."},
            next=next_path,
        )
    services.log_in(request, user)
    services.account_created(request, user)
    request.session.flash("Welcome! Your account is ready.")
    return HTTPSeeOther(location=_after_login(request))


# ---------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------


@view_config(
    route_name="password_forgot", renderer="accounts/forgot_password.jinja2", request_method="GET"
)
def forgot_password_form(request):
    return {"values": {}, "errors": {}}


@view_config(
    route_name="password_forgot", renderer="accounts/forgot_password.jinja2", request_method="POST"
)
def forgot_password(request):
    schema = ForgotPasswordSchema()
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, schema, errors)
    services.request_password_reset(request, values["email"])
    minutes = services.settings_of(request.registry)["reset_token_ttl"] // 60
    # The same answer whether or not the email has an account.
    request.session.flash(RESET_SENT.format(minutes=minutes))
    return HTTPSeeOther(location=request.route_path("login"))


def _reset_user(request):
    return user_for_reset_token(
        request.dbsession, request.registry.settings["mercato.secret"], request.matchdict["token"]
    )


@view_config(
    route_name="password_reset", renderer="accounts/reset_password.jinja2", request_method="GET"
)
def reset_password_form(request):
    _private(request)
    if _reset_user(request) is None:
        request.response.status_int = 400
        return {"invalid": RESET_LINK_INVALID, "values": {}, "errors": {}}
    return {"values": {}, "errors": {}}


@view_config(
    route_name="password_reset", renderer="accounts/reset_password.jinja2", request_method="POST"
)
def reset_password(request):
    _private(request)
    user = _reset_user(request)
    if user is None:
        request.response.status_int = 400
        return {"invalid": RESET_LINK_INVALID, "values": {}, "errors": {}}
    schema = ResetPasswordSchema()
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, schema, errors)
    set_password(user, values["password"], _rounds(request))
    request.session.flash("Your password has been changed. Please log in.")
    return HTTPSeeOther(location=request.route_path("login"))


@view_config(
    route_name="account_password",
    renderer="accounts/change_password.jinja2",
    permission="account.manage",
    request_method="GET",
)
def change_password_form(request):
    _private(request)
    return {"values": {}, "errors": {}}


@view_config(
    route_name="account_password",
    renderer="accounts/change_password.jinja2",
    permission="account.manage",
    request_method="POST",
)
def change_password(request):
    _private(request)
    schema = ChangePasswordSchema()
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, schema, errors)
    user = request.user
    if not services.password_confirmed(request, user, values["current_password"]):
        return _form_failed(
            request, schema, {"current_password": "This is not your current password."}
        )
    set_password(user, values["password"], _rounds(request))
    # A new session id and stamp for this browser; every other session is logged out.
    remember_user(request, user)
    request.session.flash("Your password has been changed.")
    return HTTPSeeOther(location=request.route_path("account"))


NOT_YOUR_PASSWORD = "This is not your password."  # noqa: S105 (a message)
STAFF_NOT_ERASED = "A staff account is closed by an admin of the shop, not erased here."
ERASED = "Your account has been erased. Thank you for shopping with us."


@view_config(
    route_name="account_erase",
    renderer="accounts/erase.jinja2",
    permission="account.manage",
    request_method="GET",
)
def erase_form(request):
    _private(request)
    return {"values": {}, "errors": {}}


@view_config(
    route_name="account_erase",
    renderer="accounts/erase.jinja2",
    permission="account.manage",
    request_method="POST",
)
def erase(request):
    """The customer erases their account (their password again: a browser left logged
    in is not enough); see ``services.erase_account``."""
    _private(request)
    schema = EraseAccountSchema()
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, schema, errors)
    if not services.password_confirmed(request, request.user, values["password"]):
        return _form_failed(request, schema, {"password": NOT_YOUR_PASSWORD})
    try:
        services.erase_account(request, request.user)
    except services.StaffAccount:
        request.response.status_int = 409
        return {"values": {}, "errors": {}, "refused": STAFF_NOT_ERASED}
    request.session.flash(ERASED)
    return HTTPSeeOther(location=request.route_path("home"))


# ---------------------------------------------------------------------------
# Profile and addresses
# ---------------------------------------------------------------------------


@view_config(
    route_name="account",
    renderer="accounts/account.jinja2",
    permission="account.manage",
    request_method="GET",
)
def account(request):
    _private(request)
    return {"values": {"name": request.user.name}, "errors": {}}


@view_config(
    route_name="account",
    renderer="accounts/account.jinja2",
    permission="account.manage",
    request_method="POST",
)
def update_profile(request):
    _private(request)
    schema = ProfileSchema()
    values, errors = validate(schema, request.POST)
    if errors:
        return _form_failed(request, schema, errors)
    request.user.name = values["name"]
    request.session.flash("Your details have been saved.")
    return HTTPSeeOther(location=request.route_path("account"))


def _own_address(request) -> Address:
    address = request.dbsession.scalar(
        select(Address).where(
            Address.id == int(request.matchdict["id"]), Address.user_id == request.user.id
        )
    )
    if address is None:
        # Someone else's address is "not found", not "forbidden": ids reveal nothing.
        raise HTTPNotFound()
    return address


@view_config(
    route_name="address_new",
    renderer="accounts/address_form.jinja2",
    permission="account.manage",
    request_method="GET",
)
def address_new_form(request):
    _private(request)
    default_country = request.registry.settings["mercato.locale"].partition("_")[2]
    return {"values": {"country": default_country}, "errors": {}, "address": None}


@view_config(
    route_name="address_new",
    renderer="accounts/address_form.jinja2",
    permission="account.manage",
    request_method="POST",
)
def address_create(request):
    _private(request)
    schema = AddressSchema()
    values, errors = validate(schema, request.POST)
    if errors:
        return {**_form_failed(request, schema, errors), "address": None}
    request.dbsession.add(Address(user_id=request.user.id, **values))
    request.session.flash("Address saved.")
    return HTTPSeeOther(location=request.route_path("account"))


@view_config(
    route_name="address_edit",
    renderer="accounts/address_form.jinja2",
    permission="account.manage",
    request_method="GET",
)
def address_edit_form(request):
    _private(request)
    address = _own_address(request)
    return {"values": address.as_dict(), "errors": {}, "address": address}


@view_config(
    route_name="address_edit",
    renderer="accounts/address_form.jinja2",
    permission="account.manage",
    request_method="POST",
)
def address_update(request):
    _private(request)
    address = _own_address(request)
    schema = AddressSchema()
    values, errors = validate(schema, request.POST)
    if errors:
        return {**_form_failed(request, schema, errors), "address": address}
    for key, value in values.items():
        setattr(address, key, value)
    request.session.flash("Address saved.")
    return HTTPSeeOther(location=request.route_path("account"))


@view_config(route_name="address_delete", permission="account.manage", request_method="POST")
def address_delete(request):
    request.dbsession.delete(_own_address(request))
    request.session.flash("Address deleted.")
    return HTTPSeeOther(location=request.route_path("account"))


# ---------------------------------------------------------------------------
# JSON API for headless and mobile clients
# ---------------------------------------------------------------------------


def _user_json(user) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role}


def _json_error(status: int, message: str, fields: dict | None = None) -> Response:
    body = {"error": {"status": status, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = Response(json_body=body, status=status)
    response.cache_control.no_store = True
    return response


@view_config(route_name="api_login", renderer="json", request_method="POST")
def api_login(request):
    """``{"email", "password"}`` → the user and the session's new CSRF token (the
    session id is rotated on login, and the token with it)."""
    try:
        data = request.json_body
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _json_error(400, 'Send a JSON object: {"email": ..., "password": ...}.')
    values, errors = validate(LoginSchema(), data)
    if errors:
        return _json_error(400, "Please correct the fields shown.", errors)
    user = services.authenticate(request, values["email"], values["password"])
    if user is None:
        return _json_error(400, LOGIN_FAILED)
    services.log_in(request, user)
    request.response.cache_control.no_store = True
    return {"user": _user_json(user), "csrf_token": request.session.new_csrf_token()}


@view_config(route_name="api_logout", renderer="json", request_method="POST")
def api_logout(request):
    services.log_out(request)
    return {"ok": True}


@view_config(
    route_name="api_account", renderer="json", permission="account.manage", request_method="GET"
)
def api_account(request):
    request.response.cache_control.no_store = True
    return {
        "user": _user_json(request.user),
        "addresses": [address.as_dict() for address in request.user.addresses],
    }
