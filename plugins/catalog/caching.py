"""Cache headers for catalog pages: an ETag always, shared caching only when safe.

A page may be kept by browsers and shared caches (``public, max-age``) only if it cannot
hold anything personal: the request carried no cookie, nobody is logged in, and
rendering it did not start a session (a slot that shows a CSRF token does, and then
sets a cookie). Every other page is ``private, no-cache``: the browser revalidates it
with its ETag and gets a 304 while nothing changed.
"""

from pyramid.renderers import render_to_response
from pyramid.response import Response


def _headers(request, response) -> None:
    if response.status_int != 200:
        return
    personal = (
        bool(request.cookies)
        or "Set-Cookie" in response.headers
        or getattr(request, "user", None) is not None
    )
    max_age = request.registry.settings["mercato.catalog"]["cache_max_age"]
    if personal or not max_age:
        response.cache_control.private = True
        response.cache_control.no_cache = True
    else:
        response.cache_control.public = True
        response.cache_control.max_age = max_age
    response.vary = ("Cookie",)


def cacheable(request, response: Response) -> Response:
    """Give ``response`` (fully rendered) an ETag and the cache rules above."""
    response.md5_etag()
    response.conditional_response = True
    # Registered after the page was rendered, so it runs after the session's own
    # callback and sees the Set-Cookie header a new session adds.
    request.add_response_callback(_headers)
    return response


def render_page(template: str, value: dict, request) -> Response:
    return cacheable(request, render_to_response(template, value, request=request))


def json_page(request, body) -> Response:
    response = Response(json_body=body)
    return cacheable(request, response)
