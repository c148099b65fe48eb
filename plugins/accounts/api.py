"""The account's JSON API beside logging in (``views``): registering, the customer's
saved addresses, erasing the account. The bodies are the account forms' own schemas
(``RegisterSchema``, ``AddressSchema``), so they are refused with the same words: 400
``{"error": {"status", "message", "fields": {field: reason}}}``, nothing saved.
"""

from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from mercato import Address, EmailTaken, create_user, rate_limit
from mercato import validate_form as validate

from . import services
from .schemas import AddressSchema, EraseAccountSchema, RegisterSchema
from .views import NOT_YOUR_PASSWORD, STAFF_NOT_ERASED, _json_error, _user_json

MANAGE = "account.manage"


def includeme(config):
    config.add_route("api_register", "/api/account/register")
    config.add_route("api_addresses", "/api/account/addresses")
    config.add_route("api_address", r"/api/account/addresses/{id:\d{1,9}}")
    config.scan(__name__)


def _fields(request, schema):
    """The valid values of the JSON object sent, or the 400 that names what is wrong."""
    try:
        data = request.json_body
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return None, _json_error(400, "Send a JSON object.")
    values, errors = validate(schema, data)
    if errors:
        return None, _json_error(400, "Please correct the fields shown.", errors)
    return values, None


@view_config(route_name="api_register", renderer="json", request_method="POST")
def api_register(request):
    """``{"name", "email", "password", "password_confirm"}`` → 201, logged in: the user
    and the session's new CSRF token (as ``POST /api/session/login`` answers)."""
    rate_limit(request, "register")
    values, refused = _fields(request, RegisterSchema())
    if refused:
        return refused
    try:
        user = create_user(
            request.dbsession,
            values["email"],
            values["password"],
            name=values["name"],
            rounds=services.settings_of(request.registry)["bcrypt_rounds"],
        )
    except EmailTaken:
        taken = {"email": "An account with this email exists. Log in, or reset its password."}
        return _json_error(409, "That email already has an account.", taken)
    services.log_in(request, user)
    services.account_created(request, user)
    request.response.status_int = 201
    request.response.cache_control.no_store = True
    return {"user": _user_json(user), "csrf_token": request.session.new_csrf_token()}


@view_config(route_name="api_addresses", renderer="json", request_method="POST", permission=MANAGE)
def api_add_address(request):
    values, refused = _fields(request, AddressSchema())
    if refused:
        return refused
    address = Address(user_id=request.user.id, **values)
    request.dbsession.add(address)
    request.dbsession.flush()
    request.response.status_int = 201
    return {"address": address.as_dict()}


def _own_address(request) -> Address:
    address = request.dbsession.scalar(
        select(Address).where(
            Address.id == int(request.matchdict["id"]), Address.user_id == request.user.id
        )
    )
    if address is None:  # someone else's is "not found" too: ids reveal nothing
        raise HTTPNotFound()
    return address


@view_config(route_name="api_address", renderer="json", request_method="PUT", permission=MANAGE)
def api_update_address(request):
    address = _own_address(request)
    values, refused = _fields(request, AddressSchema())
    if refused:
        return refused
    for key, value in values.items():
        setattr(address, key, value)
    return {"address": address.as_dict()}


@view_config(route_name="api_address", renderer="json", request_method="DELETE", permission=MANAGE)
def api_delete_address(request):
    request.dbsession.delete(_own_address(request))
    request.dbsession.flush()
    return {"addresses": [address.as_dict() for address in request.user.addresses]}


@view_config(route_name="api_account", request_method="DELETE", permission=MANAGE)
def api_erase_account(request):
    """``{"password"}`` → 204: the account is erased (``services.erase_account``) and the
    session is a guest's."""
    values, refused = _fields(request, EraseAccountSchema())
    if refused:
        return refused
    if not services.password_confirmed(request, request.user, values["password"]):
        return _json_error(400, NOT_YOUR_PASSWORD, {"password": NOT_YOUR_PASSWORD})
    try:
        services.erase_account(request, request.user)
    except services.StaffAccount:
        return _json_error(409, STAFF_NOT_ERASED)
    response = Response(status=204)
    response.cache_control.no_store = True
    return response
