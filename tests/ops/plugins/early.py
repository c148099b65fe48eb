"""A plugin whose ``mercato_configure`` asks to run first: the HTTP edge the ops plugin
provides (``add_csp_source``, rate limits) must already be there."""

from pyramid.response import Response

from mercato import hookimpl, rate_limit


def limited(request):
    rate_limit(request, "early", default="2/minute")
    return Response("ok")


@hookimpl(tryfirst=True)
def mercato_configure(config):
    config.add_csp_source("img-src", "https://images.early.example")
    config.add_route("early_limited", "/early/limited")
    config.add_view(limited, route_name="early_limited")
