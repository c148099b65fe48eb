"""``python -m bench.catalog``: the catalog's figures at 100,000 products (issue 3's
``bench/catalog``) — product, category and search pages next to the SELECT+template
floor of the same run. The whole bench with only these scenarios; extra arguments are
passed on (``--reuse-db``, ``--rounds 3``, ``--seconds 15``, ``--scenarios select,search``).

``--folder NAME`` keeps the run's ini, logs and results under ``var/NAME`` instead of
``var/bench``: two runs at once (several engineers on one machine) otherwise overwrite
each other's ``app.ini`` between writing it and starting the server with it.

``python -m bench.catalog in-process`` is the load-independent measure of search: the
bench's searches through the WSGI app in this process, one thread, timed by wall clock
and by ``time.process_time()``, each search asked twice — once as the first shopper who
asks it (page cache and per-process counts empty) and once again (what a popular query
costs) — with the statements each sent. It needs the bench's shop (``mercato_bench``)
and an ``app.ini`` from a run (``--ini``, default ``var/bench/app.ini``).
"""

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

from .config import ROOT

SCENARIOS = "select,product,category,search"  # search also runs one at a time (search-1)


def _split_folder(argv: list[str]) -> tuple[Path | None, list[str]]:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--folder")
    known, rest = parser.parse_known_args(argv)
    return (ROOT / "var" / known.folder if known.folder else None), rest


def run_bench(argv: list[str]) -> int:
    from . import __main__ as bench_main

    folder, rest = _split_folder(argv)
    if folder is not None:
        parse = bench_main.parse_args
        bench_main.parse_args = lambda args: dataclasses.replace(parse(args), folder=folder)
    if "--scenarios" not in rest:
        rest = ["--scenarios", SCENARIOS, *rest]
    return bench_main.main(rest)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share / 100 * len(ordered)))]


def _summary(label: str, wall: list[float], cpu: list[float], statements: list[int]) -> str:
    ms = [w * 1000 for w in wall]
    return (
        f"{label:28} n={len(ms):4}  p50 {_percentile(ms, 50):6.2f}  p95 {_percentile(ms, 95):6.2f}"
        f"  mean {statistics.fmean(ms):6.2f} ms wall;  CPU mean {statistics.fmean(cpu) * 1e3:6.2f}"
        f" ms;  statements mean {statistics.fmean(statements):.2f}"
    )


def in_process(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.catalog in-process")
    parser.add_argument("--ini", default=str(ROOT / "var" / "bench" / "app.ini"))
    parser.add_argument("--limit", type=int, default=440, help="searches measured")
    parser.add_argument(
        "--no-page-cache",
        action="store_true",
        help="mercato.page_cache.max_age = 0: search as it ran before its pages were cached",
    )
    args = parser.parse_args(argv)

    from mercato.ops.cli import Env, load_settings

    from . import dataset
    from .cart import redis_database
    from .config import BenchConfig

    with redis_database() as redis_url:
        settings = load_settings(args.ini)
        # A Redis database of this run's own: the page keys it forgets are its own.
        settings["redis.url"] = redis_url
        if args.no_page_cache:
            settings["mercato.page_cache.max_age"] = "0"
        return _measure(Env(settings).app(), args.limit, dataset.sample(BenchConfig()))


def _measure(app, limit: int, shop) -> int:
    import webtest
    from sqlalchemy import event

    from mercato.ops.pagecache import PAGE_PREFIX

    registry = app.registry
    seen: list[str] = []
    event.listen(registry.db_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    searches = shop.searches[:limit]
    browser = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    browser.get("/search?q=warm")  # the navigation's cache, the templates, the pool

    def forget() -> None:
        # The first shopper to ask: no page cached, no per-process counts kept.
        client = registry.redis
        for key in client.scan_iter(match=PAGE_PREFIX + "*", count=1000):
            client.delete(key)
        counts = getattr(registry, "catalog_listing_counts", None)
        if counts is not None:
            counts._values.clear()

    figures: dict[str, tuple[list, list, list]] = {}
    for query in searches:
        kind = "typo" if query.endswith("x") else ("two words" if " " in query else "one word")
        for when in ("first", "again"):
            if when == "first":
                forget()
            seen.clear()
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            browser.get("/search", {"q": query}, status=200)
            wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
            for key in (f"{when}: all", f"{when}: {kind}"):
                bucket = figures.setdefault(key, ([], [], []))
                bucket[0].append(wall)
                bucket[1].append(cpu)
                bucket[2].append(len(seen))
    for key in sorted(figures):
        print(_summary(key, *figures[key]))
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["in-process"]:
        sys.exit(in_process(argv[1:]))
    sys.exit(run_bench(argv))
