"""The request cycle does each thing once, and nothing a request does not need.

Each test pins one change that py-spy or cProfile pointed at (bench/README.md, "The
request cycle"): the request log written behind the request by one thread, route
matching that asks only the routes that can match, one request class made at start-up.
"""

import io
import logging
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
