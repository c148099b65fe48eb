"""``python -m bench.cycle``: the request cycle's CPU per request, in-process.

    .venv/bin/python -m bench.cycle                       # µs of CPU per /healthz, 5 runs
    .venv/bin/python -m bench.cycle --profile 25          # and cProfile's top 25 entries
    .venv/bin/python -m bench.cycle --path /api/session/csrf
    .venv/bin/python -m bench.cycle --tree /tmp/before     # another copy of the code

``--tree`` imports Mercato (kernel, ops, plugins) from a copy of this working tree
instead, so that a change and the code before it can be measured alternately in the
same minutes, by the same script, on the same databases.

The app is config/production.ini with the bench's overrides (bench/config.py), its
request log (JSON lines, written behind the requests) sent to /dev/null, on the local
PostgreSQL and a Redis database index claimed as the test suite claims one. One
shopper's session is opened first (``GET /api/session/csrf``), and every request
carries its cookie, as the wrk scenario's do. Requests go straight to the WSGI app on
one thread: no server, no sockets. CPU is ``time.process_time()`` (the whole process,
the request log's writer thread included), so the figure does not move with the
machine's load as a wall-clock rate does.
"""

import argparse
import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from .config import ROOT, write_app_ini

DEFAULT_DATABASE = os.environ.get(
    "BENCH_CYCLE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/mercato_bench"
)
STRIPE = {  # never called by the paths measured here; the plugin needs its settings
    "mercato.payments_stripe.api_key": "sk_test_cycle",
    "mercato.payments_stripe.publishable_key": "pk_test_cycle",
    "mercato.payments_stripe.webhook_secret": "whsec_cycle",
    "mercato.payments_stripe.api_base": "http://127.0.0.1:9",
}


def use_tree(tree: Path) -> None:
    """Import Mercato's packages from ``tree`` (a copy of this working tree): the
    editable install's finder maps each package to a folder here; point it there."""
    prefix = str(ROOT)
    for module in list(sys.modules.values()):
        mapping = getattr(module, "MAPPING", None)
        if getattr(module, "__name__", "").startswith("__editable__") and mapping:
            for table in (mapping, getattr(module, "NAMESPACES", {})):
                for name, where in table.items():
                    if isinstance(where, str) and where.startswith(prefix):
                        table[name] = str(tree) + where[len(prefix) :]
                    elif isinstance(where, list):
                        table[name] = [
                            str(tree) + p[len(prefix) :] if p.startswith(prefix) else p
                            for p in where
                        ]
    if any(name == "mercato" or name.startswith("mercato") for name in sys.modules):
        raise SystemExit("bench.cycle: --tree must be chosen before Mercato is imported")


def load_app(ini: Path):
    from pyramid.paster import get_app, setup_logging

    setup_logging(str(ini))
    app = get_app(str(ini), "main")
    # The request log's stream (stderr in production.ini) goes nowhere: its cost is the
    # formatting and the write, not a terminal.
    sink = open(os.devnull, "w")  # noqa: SIM115 (open for the process's life)
    for handler in logging.getLogger("mercato.requests").handlers:
        target = getattr(handler, "target", handler)
        if isinstance(target, logging.StreamHandler):
            target.setStream(sink)
    return app


def environ_for(path: str, cookie: str = "") -> dict:
    path_info, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "6543",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:6543",
        "HTTP_USER_AGENT": "wrk",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


def call(app, path: str, cookie: str = "") -> tuple[str, list]:
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, headers

    body = app(environ_for(path, cookie), start_response)
    try:
        for _ in body:
            pass
    finally:
        getattr(body, "close", lambda: None)()
    return answer["status"], answer["headers"]


def open_session(app) -> str:
    status, headers = call(app, "/api/session/csrf")
    cookies = [v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie"]
    if not status.startswith("200") or not cookies:
        raise SystemExit(f"bench.cycle: no session cookie from /api/session/csrf ({status})")
    return "; ".join(cookies)


def cpu_per_request(app, path: str, cookie: str, requests: int) -> float:
    """µs of the process's CPU per request, over ``requests`` requests."""
    started = time.process_time()
    for _ in range(requests):
        status, _ = call(app, path, cookie)
    spent = time.process_time() - started
    if not status.startswith("200"):
        raise SystemExit(f"bench.cycle: {path} answered {status}")
    return spent / requests * 1e6


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cycle", description=__doc__)
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--requests", type=int, default=3000, help="per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile's top N")
    parser.add_argument("--dump", type=Path, help="write the profile's stats to this file")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--tree", type=Path, help="import Mercato from this copy of the tree")
    options = parser.parse_args(argv)
    if options.tree:
        use_tree(options.tree.resolve())
    from .cart import redis_database  # imports Mercato: after --tree

    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_database())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cycle-")))
        ini = write_app_ini(
            folder / "app.ini",
            database_url=options.database_url,
            redis_url=redis_url,
            port=6543,
            workers=1,
            threads=16,
            stripe=STRIPE,
        )
        app = load_app(ini)
        cookie = open_session(app)
        cpu_per_request(app, options.path, cookie, 300)  # warm: caches, lazy imports
        load = os.getloadavg()[0]
        figures = [
            cpu_per_request(app, options.path, cookie, options.requests)
            for _ in range(options.runs)
        ]
        import mercato

        tree = Path(mercato.__file__).parent.parent.name
        runs = ", ".join(f"{figure:.0f}" for figure in figures)
        print(
            f"{tree} {options.path}: CPU per request, µs, {options.runs} runs of "
            f"{options.requests}: {runs} (min {min(figures):.0f}); "
            f"load {load:.2f} → {os.getloadavg()[0]:.2f}"
        )
        if options.profile or options.dump:
            profile = cProfile.Profile()
            profile.enable()
            cpu_per_request(app, options.path, cookie, options.requests)
            profile.disable()
            if options.dump:
                profile.dump_stats(options.dump)
            stats = pstats.Stats(profile).sort_stats("tottime")
            if options.profile:
                stats.print_stats(options.profile)
                stats.sort_stats("cumulative").print_stats(options.profile)


if __name__ == "__main__":
    main()
