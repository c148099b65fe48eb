"""A plugin that reads Redis with the session (``config.add_session_read``), as the cart
plugin reads a guest's cart: the key named by the X-Probe header; with X-Broken, a
read Redis refuses (HGETALL of a string) comes first. With X-Failing, a read made
before it queues a command and then fails when given the answer."""

from pyramid.view import view_config

from mercato import hookimpl

KEY = "probe:session-read"
ANSWERS = "probe.session_read"  # in request.environ


def failing_read(request, pipe):
    if "X-Failing" not in request.headers:
        return None
    pipe.get(KEY)

    def receive(answers) -> None:
        raise RuntimeError("a plugin's bug")

    return receive


def read(request, pipe):
    if "X-Probe" not in request.headers:
        return None
    if "X-Broken" in request.headers:
        pipe.hgetall(KEY)
    pipe.get(KEY)

    def receive(answers) -> None:
        broken = [next(answers)] if "X-Broken" in request.headers else []
        request.environ[ANSWERS] = [*broken, next(answers)]

    return receive


@view_config(route_name="probe_session_read", renderer="json")
def probe(request):
    token = request.session.get_csrf_token()  # the session is read here
    answers = request.environ.get(ANSWERS, [])
    return {
        "token": bool(token),
        "answers": [type(a).__name__ if isinstance(a, Exception) else a.decode() for a in answers],
    }


@hookimpl
def mercato_configure(config):
    config.add_session_read(failing_read)
    config.add_session_read(read)
    config.add_route("probe_session_read", "/probe/session-read")
    config.scan(__name__)
