"""The request cycle does each thing once, and nothing a request does not need.

Each test pins one change that py-spy or cProfile pointed at (bench/README.md, "The
request cycle"): the request log written behind the request by one thread, route
matching that asks only the routes that can match, one request class made at start-up.
"""

import io
import logging
import os
import re
import subprocess
import sys
import threading
import time

import pytest
from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request
from pyramid.urldispatch import RoutesMapper

REQUEST_LOG = logging.getLogger("mercato.requests")
# Python calls one /healthz may make (test_a_healthz_request_stays_within_its_budget_…).
BUDGET = 200


class WritersSeen(io.StringIO):
    """A stream that notes which threads wrote to it."""

    def __init__(self):
        super().__init__()
        self.writers: set[str] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread().name)
        return super().write(text)


@pytest.fixture
def request_log_stream():
    """The request log sent to a stream of its own, as config/production.ini sends it
    to stderr (a handler on ``mercato.requests``, not propagated)."""
    saved = REQUEST_LOG.handlers[:], REQUEST_LOG.level, REQUEST_LOG.propagate
    stream = WritersSeen()
    REQUEST_LOG.handlers = [logging.StreamHandler(stream)]
    REQUEST_LOG.setLevel(logging.INFO)
    REQUEST_LOG.propagate = False
    yield stream
    REQUEST_LOG.handlers, level, REQUEST_LOG.propagate = saved
    REQUEST_LOG.setLevel(level)


def wait_for_lines(stream, count: int, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(stream.getvalue().splitlines()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return stream.getvalue().splitlines()


def test_request_log_lines_are_written_by_one_thread_behind_the_requests(
    make_test_app, request_log_stream
):
    app = make_test_app()
    for number in range(30):
        app.get("/healthz", headers={"X-Request-Id": f"probe-{number}"})
    lines = wait_for_lines(request_log_stream, 30)
    assert [re.search(r"request_id=(\S+)", line)[1] for line in lines] == [
        f"probe-{number}" for number in range(30)
    ], "every line once, in the order of the requests"
    assert request_log_stream.writers == {"mercato-request-log"}, "never the request's thread"


def test_lines_still_queued_at_exit_are_written():
    program = (
        "import logging, sys\n"
        "from mercato.ops.requestlog import write_behind\n"
        "log = logging.getLogger('mercato.requests')\n"
        "log.setLevel(logging.INFO)\n"
        "log.addHandler(logging.StreamHandler(sys.stdout))\n"
        "write_behind(log)\n"
        "for number in range(2000):\n"
        "    log.info('line %d', number)\n"
    )
    done = subprocess.run(  # noqa: S603 (our interpreter, our code)
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == [f"line {number}" for number in range(2000)]


def test_a_forked_worker_writes_its_own_lines_and_not_its_parents():
    # gunicorn --preload forks workers after the app (and its writer) exists.
    program = (
        "import logging, os, sys, time\n"
        "from mercato.ops.requestlog import write_behind\n"
        "log = logging.getLogger('mercato.requests')\n"
        "log.setLevel(logging.INFO)\n"
        "log.addHandler(logging.StreamHandler(sys.stdout))\n"
        "write_behind(log)\n"
        "log.info('parent')\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    log.info('child')\n"
        "    time.sleep(0.5)\n"  # its writer's turn; _exit skips logging.shutdown
        "    os._exit(0)\n"
        "os.waitpid(child, 0)\n"
    )
    done = subprocess.run(  # noqa: S603 (our interpreter, our code)
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert sorted(done.stdout.splitlines()) == ["child", "parent"]


def sample_path(pattern: str) -> str:
    """A path the pattern matches: placeholders filled with digits, ``*rest`` with two
    segments."""
    path = re.sub(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}", "7", pattern)
    path = re.sub(r"\*\w+$", "a/b.css", path)
    return "/" + path.lstrip("/")


def test_routes_answer_as_pyramids_own_mapper_would(make_test_app):
    registry = make_test_app().app.registry
    mapper = registry.getUtility(IRoutesMapper)
    plain = RoutesMapper()
    for route in mapper.get_routes():
        plain.connect(route.name, route.pattern, route.factory, route.predicates)
    paths = {sample_path(route.pattern) for route in mapper.get_routes()}
    paths |= {"/", "/nowhere", "/p", "//healthz", "/healthz/", "/api/nowhere", "/static"}
    for path in sorted(paths):
        for method in ("GET", "POST"):
            request = Request.blank(path, method=method)
            request.registry = registry
            ours, pyramids = mapper(request)["route"], plain(request)["route"]
            assert getattr(ours, "name", None) == getattr(pyramids, "name", None), path


def test_a_path_asks_only_the_routes_that_can_match_it(make_test_app):
    mapper = make_test_app().app.registry.getUtility(IRoutesMapper)
    asked = [route.pattern for route in mapper.candidates("/healthz")]
    assert "/healthz" in asked and len(asked) <= 3, asked
    assert len(mapper.get_routes()) > 50, "the shop's routes are all there"


def test_every_request_is_of_one_request_class_made_at_start_up(make_test_app):
    router = make_test_app().app
    requests = []
    for _ in range(2):
        context = router.request_context(Request.blank("/healthz").environ)
        request = context.begin()
        try:
            requests.append(request)
            assert request.hooks is request.registry.hooks, "plugins' properties work"
        finally:
            context.end()
    assert type(requests[0]) is type(requests[1])


def python_calls(app, environ: dict) -> int:
    """Python function calls made while the WSGI app answers ``environ`` (this thread's;
    the request log's writer is another)."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        body = app(environ, lambda status, headers, exc_info=None: None)
        b"".join(body)
    finally:
        sys.setprofile(None)
    return calls


def test_a_healthz_request_stays_within_its_budget_of_python_calls(make_test_app):
    # A count, not a time: the same on a quiet machine and a loaded one. /healthz made
    # 271 calls before the request id, the NUL check, the security headers and the
    # view stopped doing what they did twice or needed not do (173 after); a change
    # that adds work to every request shows here first.
    test_app = make_test_app()
    session_cookie = test_app.get("/api/session/csrf").headers["Set-Cookie"].split(";")[0]
    environ = Request.blank("/healthz", headers={"Cookie": session_cookie}).environ
    for _ in range(3):  # warm: lazy imports and caches
        python_calls(test_app.app, dict(environ))
    calls = python_calls(test_app.app, dict(environ))
    assert calls <= BUDGET, f"/healthz made {calls} Python calls (budget {BUDGET})"


def test_a_fresh_request_id_asks_the_kernel_for_nothing(make_test_app):
    # os.urandom (uuid4) released the GIL on every request, and under load the request
    # thread queued to get it back: 61% of /healthz's samples (py-spy).
    app = make_test_app()
    asked = []

    def watch(frame, event, arg):
        if event == "c_call" and arg is os.urandom:
            asked.append(arg)

    sys.setprofile(watch)
    try:
        ids = {app.get("/healthz").headers["X-Request-Id"] for _ in range(50)}
    finally:
        sys.setprofile(None)
    assert asked == [], "no system call for a request id"
    assert len(ids) == 50 and all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)


def test_request_ids_are_unique_in_each_forked_worker():
    # `mercato serve` forks its workers after loading the app: a worker that kept its
    # parent's key would repeat the parent's (and its siblings') ids.
    program = (
        "import os, sys\n"
        "from mercato.errors import new_request_id\n"
        "new_request_id()\n"
        "def say():\n"  # one write below PIPE_BUF: the processes' lines never mix
        "    os.write(1, (' '.join(new_request_id() for _ in range(100)) + '\\n').encode())\n"
        "children = []\n"
        "for _ in range(2):\n"
        "    child = os.fork()\n"
        "    if child == 0:\n"
        "        say()\n"
        "        os._exit(0)\n"
        "    children.append(child)\n"
        "for child in children:\n"
        "    os.waitpid(child, 0)\n"
        "say()\n"
    )
    done = subprocess.run(  # noqa: S603 (our interpreter, our code)
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    ids = done.stdout.split()
    assert len(ids) == 300 and len(set(ids)) == 300, "each process's ids are its own"


def test_cookies_are_parsed_at_the_edge_only_when_an_escape_could_hide_a_nul(make_test_app):
    app = make_test_app()
    session_cookie = app.get("/api/session/csrf").headers["Set-Cookie"].split(";")[0]
    app.reset()
    answer = app.get("/healthz", headers={"Cookie": session_cookie})
    assert "webob._parsed_cookies" not in answer.request.environ, "no cookie was parsed"
    # A quoted value may escape a NUL that the raw header does not hold.
    refused = app.get("/healthz", headers={"Cookie": 'note="a\\000b"'}, status=400)
    assert "NUL" in refused.text


def test_healthz_answers_the_same_bytes_without_the_renderer(make_test_app):
    from pyramid.events import BeforeRender

    app = make_test_app()
    rendered = []
    app.app.registry.registerHandler(rendered.append, (BeforeRender,))
    answer = app.get("/healthz")
    assert answer.body == b'{"status": "ok"}'
    assert answer.headers["Content-Type"] == "application/json"
    assert rendered == [], "a ready answer, not rendered per request"
    assert app.head("/healthz").headers["Content-Length"] == "16"
