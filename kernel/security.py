"""Who is asking (``request.user``) and what they may do: Mercato's security policy.

Identity lives in the Redis session: the user's id and a *stamp* derived from their
password hash and role. Changing either (password reset, promotion, demotion) makes
every other session of that user anonymous at its next request; a deactivated user
is anonymous at once.

Or a plugin's credentials name them (an API key: ``mercato_request_credentials``);
then the cookie is not looked at, and a permission must also be one they grant.

Authorization is by role: ``customer``, ``staff``, ``admin``. A permission names the
roles that hold it; the kernel declares its own (``KERNEL_PERMISSIONS``) and every
plugin adds its own through ``mercato_permissions()``, merged at start-up. ``admin``
holds every declared permission. A permission nobody declared is denied to everyone
(and logged), so a typo fails closed. Views use the usual Pyramid
``view_config(permission="catalog.manage")``; code uses ``request.has_permission``.

Rules about one object, which roles alone cannot express, are functions here:
``can_view_order``.

A guest who reaches a page they may not see is sent to the login page with
``?next=`` (``safe_next`` keeps that to our own paths); a logged-in user gets the 403
page; ``/api/`` gets JSON 401 or 403.
"""

import hashlib
import hmac
import logging
from urllib.parse import urlsplit

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.security import Allowed, Denied
from pyramid.view import forbidden_view_config

from .accounts.models import ROLES, User
from .capabilities import has_route
from .errors import error_response, wants_json
from .exceptions import ConfigurationError
from .sessions import COOKIE_NAME, rotate_session

log = logging.getLogger(__name__)

SESSION_USER_ID = "auth.user_id"
SESSION_STAMP = "auth.stamp"

KERNEL_PERMISSIONS = {
    # The shopper's own account pages: profile, addresses, password, own orders.
    "account.manage": ["customer", "staff", "admin"],
    # Every order of every customer (the back office's own permissions are the admin
    # plugin's).
    "orders.manage": ["staff", "admin"],
}


def user_stamp(user: User) -> str:
    """Changes whenever the password or the role changes, ending the other sessions."""
    return hashlib.sha256(f"{user.password_hash}|{user.role}".encode()).hexdigest()[:32]


def _credentials(request):
    # Asked once per request, only when something needs the user or a permission.
    return request.registry.hooks.mercato_request_credentials(request=request)


def _load_user(request) -> User | None:
    if request.credentials is not None:
        return request.credentials.user
    if COOKIE_NAME not in request.cookies:
        return None  # no cookie, no session: do not create one just to find out
    session = request.session
    user_id = session.get(SESSION_USER_ID)
    if user_id is None:
        return None
    user = request.dbsession.get(User, user_id)
    if (
        user is None
        or not user.is_active
        or not hmac.compare_digest(str(session.get(SESSION_STAMP, "")), user_stamp(user))
    ):
        # The account changed under this session: it drops to a guest (with a new id),
        # keeping the guest's things, unless the account is gone (erased): nothing of
        # the person stays in it (the checkout's email and addresses).
        forget_user(request, keep_data=user is not None)
        return None
    return user


def remember_user(request, user: User) -> None:
    """Make ``user`` the session's identity after rotating the session id. Its data,
    such as a guest's cart, is kept, unless the session belonged to another user: their
    cart is not handed to the next person at a shared computer. Use it on login and
    after the user's own password change; the accounts plugin's login also runs the
    login hook."""
    rotate_session(request, keep_data=request.session.get(SESSION_USER_ID) in (None, user.id))
    request.session[SESSION_USER_ID] = user.id
    request.session[SESSION_STAMP] = user_stamp(user)
    request.user = user


def forget_user(request, keep_data: bool = False) -> None:
    """End the identity: a new session id, and (unless ``keep_data``) an empty session."""
    if keep_data:
        request.session.pop(SESSION_USER_ID, None)
        request.session.pop(SESSION_STAMP, None)
        rotate_session(request, keep_data=True)
    else:
        request.session.invalidate()
    request.user = None


class MercatoSecurityPolicy:
    """Pyramid 2 security policy: identity from the session, permissions by role."""

    def __init__(self, permissions: dict[str, frozenset[str]]):
        self.permissions = permissions

    def identity(self, request):
        return request.user

    def authenticated_userid(self, request):
        user = request.user
        return None if user is None else user.id

    def permits(self, request, context, permission):
        roles = self.permissions.get(permission)
        if roles is None:
            log.warning("permission %r is declared by no one: denied", permission)
            return Denied(f"permission {permission!r} is not declared")
        user = request.user
        if user is None or user.role not in roles:
            return Denied(f"{permission} needs one of {sorted(roles)}")
        credentials = request.credentials
        if credentials is not None and permission not in credentials.permissions:
            return Denied(f"the request's credentials do not grant {permission}")
        return Allowed(f"role {user.role} holds {permission}")

    def remember(self, request, userid, **kw):
        user = request.dbsession.get(User, userid)
        if user is not None:
            remember_user(request, user)
        return []

    def forget(self, request, **kw):
        forget_user(request)
        return []


def merge_permissions(hooks) -> dict[str, frozenset[str]]:
    """The kernel's permissions plus every plugin's ``mercato_permissions()``; roles of a
    permission declared twice are united. ``admin`` is added to every permission."""
    merged: dict[str, set[str]] = {k: set(v) for k, v in KERNEL_PERMISSIONS.items()}
    for declared in hooks.mercato_permissions():
        for permission, roles in (declared or {}).items():
            unknown = set(roles) - set(ROLES)
            if unknown:
                raise ConfigurationError(
                    f"mercato: permission {permission!r} names unknown role(s) "
                    f"{', '.join(sorted(unknown))}: use {', '.join(ROLES)}"
                )
            merged.setdefault(permission, set()).update(roles)
    return {permission: frozenset(roles | {"admin"}) for permission, roles in merged.items()}


def safe_next(request, value, default: str | None = None) -> str:
    """``value`` if it is a path on this site (``/account?tab=2``), else ``default``
    (the home page when omitted).

    Refused: absolute and scheme-relative URLs (``https://evil``, ``//evil``),
    backslashes (browsers read ``/\\evil`` as ``//evil``), control characters and
    anything not starting with ``/``: after login nobody is sent to another site.
    """
    fallback = default or request.route_path("home")
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return fallback
    if value.startswith("//") or "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return fallback
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return fallback
    return value


def can_view_order(request, order, token: str | None = None) -> bool:
    """Whether the person making ``request`` may see ``order``.

    ``order`` needs ``customer_id`` (the owner's user id, ``None`` for a guest order)
    and ``access_token`` (the secret of the order's link). ``token`` is the secret the
    request presented (from the link's URL), if any.

    * staff and admins (``orders.manage``) see every order;
    * a customer sees the orders whose ``customer_id`` is their id;
    * anyone holding the order's secret link (``token`` equal to ``access_token``,
      compared in constant time) sees that order: how a guest, or a customer who is
      not logged in, opens the link from their confirmation email.

    Answer a ``False`` with 404, not 403: a stranger must not learn that the order
    exists.
    """
    if request.has_permission("orders.manage"):
        return True
    user = request.user
    if user is not None and order.customer_id is not None and order.customer_id == user.id:
        return True
    secret = getattr(order, "access_token", None)
    if token and secret:
        return hmac.compare_digest(str(token).encode(), str(secret).encode())
    return False


@forbidden_view_config()
def forbidden(exc, request):
    if request.user is None:
        # The login page is the accounts plugin's: a shop without it (``no:accounts``,
        # a headless shop) answers 401 like the API.
        if wants_json(request) or not has_route(request, "login"):
            return error_response(request, 401, "Please log in first.")
        query = {"next": request.path_qs} if request.method in ("GET", "HEAD") else {}
        return HTTPSeeOther(location=request.route_path("login", _query=query))
    return error_response(request, 403)


def includeme(config):
    # The user is looked up only where something asks for it. pyramid_tm would look
    # it up on every request to annotate the transaction (a session read in Redis
    # and a query), above the error views: /healthz then failed with Redis.
    config.registry.settings["tm.annotate_user"] = False
    config.add_request_method(_credentials, "credentials", reify=True)
    config.add_request_method(_load_user, "user", reify=True)
    permissions = merge_permissions(config.registry.hooks)
    config.registry.mercato_permissions = permissions
    config.set_security_policy(MercatoSecurityPolicy(permissions))
    config.scan(__name__)
