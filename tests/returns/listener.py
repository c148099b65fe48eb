"""A stand-in plugin (enabled by dotted name) that hears the returns plugin's hooks, as a
helpdesk or a warehouse plugin would: what it heard is in ``heard``."""

from mercato import hookimpl

heard: list[tuple[str, str, dict]] = []


@hookimpl
def mercato_return_requested(order, return_request):
    heard.append(("requested", order.number, dict(return_request)))


@hookimpl
def mercato_return_received(order, return_request):
    heard.append(("received", order.number, dict(return_request)))
