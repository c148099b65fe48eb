"""A plugin for the ops tests: a login form, a URL with a token, a slow page, the pid."""

import os
import time

from pyramid.response import Response

from mercato import hookimpl


def login(request):
    # Reads the password as a real login view would, and refuses it.
    password = request.POST.get("password", "")
    return Response(f"refused a password of {len(password)} characters", status=401)


def reset(request):
    return Response("choose a new password")


def pid(request):
    return Response(str(os.getpid()))


def slow(request):
    time.sleep(min(float(request.params.get("seconds", "1")), 10))
    return Response(str(os.getpid()))


def echo(request):
    return Response(json_body={"name": request.POST.get("name"), "scheme": request.scheme})


def boom(request):
    raise RuntimeError("probe failure")


@hookimpl
def mercato_configure(config):
    for name, pattern, view, method in [
        ("probe_login", "/probe/login", login, "POST"),
        ("probe_reset", "/probe/reset/{token}", reset, "GET"),
        ("probe_pid", "/probe/pid", pid, "GET"),
        ("probe_slow", "/probe/slow", slow, "GET"),
        ("probe_boom", "/probe/boom", boom, ("GET", "POST")),
        ("probe_echo", "/probe/echo", echo, "POST"),
    ]:
        config.add_route(name, pattern)
        config.add_view(view, route_name=name, request_method=method)
