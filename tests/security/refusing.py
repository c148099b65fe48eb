"""A test plugin whose page refuses with a ``CheckoutError`` outside ``place_order``, as a
pricing plugin does when its tax service is down (the kernel's error view answers)."""

from pyramid.view import view_config

from mercato import CheckoutError, hookimpl


class ServiceDown(CheckoutError):
    status = 503


@view_config(route_name="refuse", renderer="json")
def refuse(request):
    if request.params.get("down"):
        raise ServiceDown("We could not calculate the tax right now.")
    raise CheckoutError("Please choose a shipping method.", field="shipping_method")


@hookimpl
def mercato_configure(config):
    config.add_route("refuse", "/refuse")
    config.scan(__name__)
