"""The admin's pages for API keys (permission ``api_keys.manage``: admins only).

The list shows each key's prefix, owner, scopes, and when it was created, last used
and revoked. Creating a key answers a page with its secret — the only time it is
shown: it is not stored, so it is not in a redirect, the session or a log. A form
with a mistake comes back with a 400 and the reason next to the field.
"""

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from mercato import admin_available

from . import services
from .schemas import BadInput, read_new_key
from .scopes import SCOPES

MANAGE = "api_keys.manage"


def _page(request, template: str, values: dict, status: int = 200):
    if not admin_available(request):
        raise HTTPNotFound()  # the pages extend the admin's layout
    response = render_to_response(template, values, request=request)
    response.status_int = status
    response.cache_control.no_store = True  # a secret, or the list of who holds keys
    return response


def _list_page(request, status: int = 200, values=None, errors=None):
    owners = services.possible_owners(request.dbsession)
    return _page(
        request,
        "api_keys/admin_list.jinja2",
        {
            "keys": services.all_keys(request.dbsession),
            "owners": owners,
            "scopes": SCOPES,
            "values": values or {"owner": str(request.user.id), "scope": []},
            "errors": errors or {},
        },
        status,
    )


@view_config(route_name="api_keys_admin", request_method="GET", permission=MANAGE)
def keys_list(request):
    return _list_page(request)


@view_config(route_name="api_keys_admin", request_method="POST", permission=MANAGE)
def key_create(request):
    owners = {user.id: user for user in services.possible_owners(request.dbsession)}
    try:
        new = read_new_key(request.POST, set(owners))
    except BadInput as exc:
        kept = {
            "name": request.POST.get("name", ""),
            "owner": request.POST.get("owner", ""),
            "scope": request.POST.getall("scope"),
        }
        return _list_page(request, 400, kept, {exc.field: exc.message})
    key, secret = services.create_key(
        request.dbsession, new.name, owners[new.owner_id], new.scopes, request.user
    )
    values = {"key": key, "secret": secret, "scopes": SCOPES}
    return _page(request, "api_keys/admin_created.jinja2", values, status=201)


@view_config(route_name="api_keys_admin_revoke", request_method="POST", permission=MANAGE)
def key_revoke(request):
    key = services.revoke_key(request.dbsession, int(request.matchdict["id"]))
    if key is None:
        raise HTTPNotFound()
    request.session.flash(f"The key “{key.name}” ({key.prefix}…) is revoked: it works no more.")
    return HTTPSeeOther(request.route_path("api_keys_admin"))
