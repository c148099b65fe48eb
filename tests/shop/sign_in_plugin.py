"""A shop's own sign-in (enabled by dotted name), as a shop that switches the account
pages off (``no:accounts``) and signs its staff in another way, e.g. single sign-on."""

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from sqlalchemy import select

from mercato import User, hookimpl, remember_user


def sign_in(request):
    email = request.POST.get("email", "")
    user = request.dbsession.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None:
        raise HTTPNotFound()
    remember_user(request, user)
    return HTTPSeeOther(location="/")


@hookimpl
def mercato_configure(config):
    config.add_route("sso_sign_in", "/sso/sign-in")
    config.add_view(sign_in, route_name="sso_sign_in", request_method="POST")
