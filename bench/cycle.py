"""``python -m bench.cycle``: the request cycle's CPU per request, in-process.

    .venv/bin/python -m bench.cycle                       # µs of CPU per /healthz, 5 runs
    .venv/bin/python -m bench.cycle --profile 25          # and cProfile's top 25 entries
    .venv/bin/python -m bench.cycle --path /api/session/csrf
    .venv/bin/python -m bench.cycle --tree /tmp/before     # another copy of the code
    .venv/bin/python -m bench.cycle --cart --profile 25   # POST /api/cart/lines instead
    .venv/bin/python -m bench.cycle --cart --commit-every 8   # in a process taking orders
    .venv/bin/python -m bench.cycle --cart --set mercato.cart.catalog_cache_seconds=0

``--tree`` imports Mercato (kernel, ops, plugins) from a copy of this working tree
instead, so that a change and the code before it can be measured alternately in the
same minutes, by the same script, on the same databases.

The app is config/production.ini with the bench's overrides (bench/config.py), its
request log (JSON lines, written behind the requests) sent to /dev/null, on the local
PostgreSQL and a Redis database index claimed as the test suite claims one. One
shopper's session is opened first (``GET /api/session/csrf``), and every request
carries its cookie, as the wrk scenario's do. Requests go straight to the WSGI app on
one thread: no server, no sockets. ``--cart`` measures the add to cart as the wrk
scenario makes it instead: 2,000 shoppers' sessions, each adding one unit of its own
SKU (the bench's stock that never runs out) per request, in turn, as JSON with its
CSRF token. ``--commit-every`` commits on the app's engine between requests, as the
orders a process takes do (seven commits per order). CPU is ``time.process_time()``
(the whole process, the request log's writer thread included), so the figure does not
move with the machine's load as a wall-clock rate does.
"""

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
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
# The wrk scenario's add to cart (bench/scenarios.py): each session its own SKU.
CART_PATH = "/api/cart/lines"
CART_SHOPPERS = 2000


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


def environ_for(path: str, cookie: str = "", body: dict | None = None, token: str = "") -> dict:
    path_info, _, query = path.partition("?")
    payload = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": "POST" if body is not None else "GET",
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
        "wsgi.input": io.BytesIO(payload),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(payload))
        environ["HTTP_X_CSRF_TOKEN"] = token
    return environ


@dataclass
class Shopper:
    """One session, and what its requests are: a GET of ``path``, or (``body``) a POST
    of that JSON with the session's CSRF token."""

    cookie: str
    token: str
    path: str
    body: dict | None = None

    def keep(self, headers) -> None:
        """Keep the cookies an answer sets, as a browser does (the cart's, after the
        first add)."""
        set_cookies = [value for name, value in headers if name == "Set-Cookie"]
        if not set_cookies:
            return  # the common case, kept cheap: this loop's CPU is in the figures
        cookies = dict(pair.split("=", 1) for pair in self.cookie.split("; ") if pair)
        for value in set_cookies:
            key, _, rest = value.split(";", 1)[0].partition("=")
            cookies[key] = rest
        self.cookie = "; ".join(f"{key}={value}" for key, value in cookies.items())


def call(app, environ: dict) -> tuple[str, list, bytes]:
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, headers

    body = app(environ, start_response)
    try:
        content = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return answer["status"], answer["headers"], content


def open_session(app, path: str, body: dict | None = None) -> Shopper:
    status, headers, content = call(app, environ_for("/api/session/csrf"))
    cookies = [v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie"]
    if not status.startswith("200") or not cookies:
        raise SystemExit(f"bench.cycle: no session cookie from /api/session/csrf ({status})")
    return Shopper("; ".join(cookies), json.loads(content)["csrf_token"], path, body)


def open_sessions(app, options) -> list[Shopper]:
    if not options.cart:
        return [open_session(app, options.path)]
    from sqlalchemy import create_engine

    from mercato.db import sqlalchemy_url

    from .dataset import hot_variants

    engine = create_engine(sqlalchemy_url(options.database_url))
    try:
        with engine.connect() as conn:
            skus = [sku for _slug, sku in hot_variants(conn)][:CART_SHOPPERS]
    finally:
        engine.dispose()
    if not skus:
        raise SystemExit("bench.cycle --cart: no SKUs in the bench's database")
    return [open_session(app, CART_PATH, {"sku": sku, "quantity": 1}) for sku in skus]


def cpu_per_request(app, shoppers: list[Shopper], requests: int, commit_every: int = 0) -> float:
    """µs of the process's CPU per request, over ``requests`` requests made by the
    shoppers in turn; with ``commit_every``, a commit on the app's engine after every
    that many requests, as a process taking orders makes them (seven per order)."""
    from sqlalchemy import text

    started = time.process_time()
    for number in range(requests):
        shopper = shoppers[number % len(shoppers)]
        environ = environ_for(shopper.path, shopper.cookie, shopper.body, shopper.token)
        status, headers, _ = call(app, environ)
        if not status.startswith("200"):
            raise SystemExit(f"bench.cycle: {shopper.path} answered {status}")
        shopper.keep(headers)
        if commit_every and number % commit_every == 0:
            with app.registry.db_engine.begin() as connection:
                connection.execute(text("SELECT 1"))
    spent = time.process_time() - started
    return spent / requests * 1e6


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cycle", description=__doc__)
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--cart", action="store_true", help=f"POST {CART_PATH} instead")
    parser.add_argument(
        "--commit-every", type=int, default=0, metavar="N", help="a commit after every N requests"
    )
    parser.add_argument("--requests", type=int, default=3000, help="per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile's top N")
    parser.add_argument("--dump", type=Path, help="write the profile's stats to this file")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an app setting (mercato.cart.catalog_cache_seconds=0: every add asks the catalog)",
    )
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
            extra=dict(setting.split("=", 1) for setting in options.set),
        )
        app = load_app(ini)
        shoppers = open_sessions(app, options)
        cpu_per_request(app, shoppers, 300)  # warm: caches, lazy imports
        load = os.getloadavg()[0]
        figures = [
            cpu_per_request(app, shoppers, options.requests, options.commit_every)
            for _ in range(options.runs)
        ]
        import mercato

        tree = Path(mercato.__file__).parent.parent.name
        runs = ", ".join(f"{figure:.0f}" for figure in figures)
        print(
            f"{tree} {shoppers[0].path}: CPU per request, µs, {options.runs} runs of "
            f"{options.requests}: {runs} (min {min(figures):.0f}); "
            f"load {load:.2f} → {os.getloadavg()[0]:.2f}"
        )
        if options.profile or options.dump:
            # Timed by CPU, as the figures are: a wait for PostgreSQL or Redis costs none.
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            cpu_per_request(app, shoppers, options.requests, options.commit_every)
            profile.disable()
            if options.dump:
                profile.dump_stats(options.dump)
            stats = pstats.Stats(profile).sort_stats("tottime")
            if options.profile:
                stats.print_stats(options.profile)
                stats.sort_stats("cumulative").print_stats(options.profile)


if __name__ == "__main__":
    main()
