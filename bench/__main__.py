"""``python -m bench``: Mercato's benchmarks and load tests, in one bounded run.

    .venv/bin/python -m bench                      # everything, about 12 minutes
    .venv/bin/python -m bench --reuse-db --scenarios product,cart --rounds 3
    .venv/bin/python -m bench --list

Builds the shop (a fresh ``mercato_bench`` database on the local PostgreSQL: 100,000
products through ``mercato catalog sample``, 10,000 customers), serves it with
``mercato serve`` in config/production.ini's settings (see bench/config.py for the few
overrides and why), starts localstripe, and runs every scenario next to the floors
measured in the same run. Needs wrk (``apt-get install -y wrk``) and, for the nginx
scenario, nginx (``apt-get install -y nginx-light``). Prints a table and writes
var/bench/results.json; bench/README.md says how to read them.
"""

import argparse
import json
import os
import platform
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from .config import ROOT, BenchConfig, read_production
from .measure import Result, require_wrk
from .scenarios import FLOOR_OF, FLOORS, JOURNEYS, PAGES

ALL = (*FLOORS, *PAGES, *JOURNEYS, "shoppers", "shoppers-5000", "nginx", "scaled")
# `scaled` builds a second shop on servers of its own, and `shoppers-5000` takes two
# minutes of a machine driven past what it serves: only when asked for.
DEFAULT = tuple(name for name in ALL if name not in ("scaled", "shoppers-5000"))
# Scenarios whose floor counts orders, not requests: compared by orders per second.
ORDER_FLOORS = {"checkout": "stripe"}
DESCRIPTIONS = {
    "hello": "floor: bare Pyramid view returning a short text",
    "select": "floor: one primary-key SELECT rendered through a Jinja2 template",
    "redis": "floor: one Redis HINCRBY answered as JSON",
    "healthz": "GET /healthz with a session cookie: the app's request cycle, no page",
    "home": "GET / (newest products, categories)",
    "category": "GET /c/<slug>, pages 1-10",
    "product": "GET /p/<slug> over 5,000 products",
    "search": "GET /search?q=… (full text, trigram fallback for typos); search-1: the "
    "same one request at a time, for the latency target",
    "cart": "POST /api/cart/lines (JSON, CSRF header)",
    "checkout": "product, add to cart, address, payment at localstripe, confirmation; "
    "beside it, the Stripe floor (bench.stripe_floor: the same Stripe calls, bare)",
    "mixed": "a shopper's visit: home, category, search, products, cart, checkout",
    "shoppers": "1,000 concurrent shoppers doing the mixed visit with think time",
    "shoppers-5000": "5,000 concurrent shoppers, the same visit and think time (not in the "
    "default run)",
    "nginx": "two app processes behind nginx against one: throughput, nothing lost",
    "scaled": "the nginx run on a PostgreSQL primary + replica and a Redis Cluster of its "
    "own (not in the default run)",
}
# (scenario, figure, comparison, bound, what the target says)
TARGETS = (
    ("healthz", "ratio", ">=", 0.60, "≥ 60% of the hello floor"),
    ("product", "ratio", ">=", 0.60, "≥ 60% of the SELECT+template floor"),
    ("cart", "ratio", ">=", 0.30, "≥ 30% of the Redis floor"),
    ("search", "ratio", ">=", 0.30, "≥ 30% of the SELECT+template floor"),
    ("search-1", "p95_ms", "<", 20.0, "search p95 < 20 ms at 100,000 products"),
    ("checkout", "checkouts_per_s", ">=", 50.0, "≥ 50 orders/s on two processes"),
    ("checkout", "place_order_p95_ms", "<", 500.0, "place order p95 < 500 ms"),
    ("shoppers", "errors", "<=", 0, "zero errors with 1,000 concurrent shoppers"),
    ("shoppers-5000", "errors", "<=", 0, "zero errors with 5,000 concurrent shoppers"),
    # Errors alone flatter an overloaded run: requests still waiting when it ends are
    # not errors yet. Their wait counts in this p99 (a lower bound of the true one).
    ("shoppers-5000", "p99_with_unanswered_ms", "<", 1000.0, "5,000 shoppers: p99 < 1 s"),
)
COMPARE = {">=": lambda v, b: v >= b, "<": lambda v, b: v < b, "<=": lambda v, b: v <= b}


def parse_args(argv) -> BenchConfig:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", help=f"comma-separated, from: {', '.join(ALL)}")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--seconds", type=float, default=8, help="measured seconds per round")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds first")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per scenario (≥ 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--shoppers", type=int, default=1000)
    parser.add_argument("--shoppers-seconds", type=float, default=60)
    parser.add_argument("--think", default="3-10", help="shoppers' think time, seconds LOW-HIGH")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--bcrypt-rounds", type=int, default=12, help="customers' hash cost")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, help="waitress threads (production.ini's)")
    parser.add_argument(
        "--reuse-db", action="store_true", help="keep mercato_bench if it holds the same shop"
    )
    parser.add_argument(
        "--folder",
        type=Path,
        default=ROOT / "var" / "bench",
        help="where ini files, logs and results go (one per person benching at once)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for name in ALL:
            print(f"{name:10} {DESCRIPTIONS[name]}")
        raise SystemExit(0)
    scenarios = args.scenarios.split(",") if args.scenarios else list(DEFAULT)
    unknown = sorted(set(scenarios) - set(ALL))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}: see --list")
    low, _, high = args.think.partition("-")
    threads = args.threads or int(read_production()["server:main"]["threads"])
    return BenchConfig(
        products=args.products,
        customers=args.customers,
        bcrypt_rounds=args.bcrypt_rounds,
        reuse_db=args.reuse_db,
        workers=args.workers,
        threads=threads,
        seconds=args.seconds,
        warmup=args.warmup,
        rounds=max(1, args.rounds),
        connections=args.connections,
        shoppers=args.shoppers,
        shoppers_seconds=args.shoppers_seconds,
        think=(float(low), float(high or low)),
        scenarios=scenarios,
        folder=args.folder.resolve(),
    )


def budget_seconds(config: BenchConfig) -> int:
    """A hard upper bound: whatever hangs, the run ends."""
    # + 2 journeys and the Stripe floor
    per_round = (config.seconds + config.warmup + 15) * (len(FLOORS) + len(PAGES) + 3)
    return int(900 + config.rounds * per_round + config.shoppers_seconds * 4 + 400)


def main(argv=None) -> int:
    config = parse_args(sys.argv[1:] if argv is None else argv)
    require_wrk()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("bench: time budget exceeded, stopping"))
    signal.alarm(budget_seconds(config))
    from . import runner

    started = time.monotonic()
    with ExitStack() as stack:
        results = runner.run(config, stack)
    elapsed = time.monotonic() - started
    report = summarize(config, results, elapsed)
    out = config.folder / "results.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nbench: done in {elapsed / 60:.1f} min; figures in {out}")
    return 0 if all(t["met"] is not False for t in report["targets"]) else 1


def rate(result: Result) -> float:
    """What a scenario is ranked by: orders per second where its floor counts orders."""
    if result.name in ORDER_FLOORS:
        return result.notes.get("checkouts_per_s", 0.0)
    return result.rps


def best_of(rounds: list[Result]) -> tuple[Result, float]:
    """The round with the highest rate, and the spread between rounds."""
    best = max(rounds, key=rate)
    worst = min(rounds, key=rate)
    spread = (rate(best) - rate(worst)) / rate(best) if rate(best) else 0.0
    return best, spread


def summarize(config: BenchConfig, results: dict[str, list[Result]], elapsed: float) -> dict:
    rows = {}
    for name, rounds in results.items():
        if not rounds:
            continue
        best, spread = best_of(rounds)
        row = best.to_json()
        row["rounds"] = len(rounds)
        row["spread"] = round(spread, 3)
        row["errors"] = sum(r.errors for r in rounds)
        row["rps_all"] = [round(r.rps, 1) for r in rounds]
        if name in ORDER_FLOORS:
            row["orders_per_s_all"] = [round(rate(r), 1) for r in rounds]
            row["of_stripe_floor_all"] = [r.notes.get("of_stripe_floor") for r in rounds]
        floor_name = ORDER_FLOORS.get(name) or FLOOR_OF.get(name, "")
        floor = results.get(floor_name, [])
        if floor:
            row["floor"] = floor_name
            floor_rate = best_of(floor)[0].rps
            row["ratio"] = round(rate(best) / floor_rate, 3) if floor_rate else None
        rows[name] = row
    targets = []
    for name, field, comparison, bound, text in TARGETS:
        row = rows.get(name)
        value = None if row is None else row.get(field)
        met = None if value is None else COMPARE[comparison](value, bound)
        targets.append({"scenario": name, "target": text, "value": value, "met": met})
    print_table(rows, targets)
    return {
        "machine": machine(),
        "settings": {
            "workers": config.workers,
            "threads": config.threads,
            "connections": config.connections,
            "seconds": config.seconds,
            "rounds": config.rounds,
            "shoppers": config.shoppers,
            "think": config.think,
        },
        "minutes": round(elapsed / 60, 1),
        "results": rows,
        "targets": targets,
    }


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(memory) / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def print_table(rows: dict, targets: list) -> None:
    print()
    header = (
        f"{'scenario':10} {'req/s':>8} {'spread':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>9} "
        f"{'errors':>6} {'RSS MB':>7} {'vs floor':>14}"
    )
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        ratio = f"{row['ratio']:.0%} {row['floor']}" if row.get("ratio") is not None else ""
        print(
            f"{name:10} {row['rps']:8.0f} {row['spread']:7.0%} {row['p50_ms']:8.1f} "
            f"{row['p95_ms']:8.1f} {row['p99_ms']:9.1f} {row['errors']:6d} "
            f"{row['peak_rss_mb']:7.0f} {ratio:>14}"
        )
        extra = {
            k: v
            for k, v in row.items()
            if k.endswith(("_per_s", "_ms", "_s"))
            and k.startswith(
                ("checkouts", "place_order", "orders", "order_", "connect", "unanswered")
            )
            or k.startswith(("p99_with", "of_stripe", "stripe_floor"))
            or k
            in ("placed_total", "scaling", "consistency", "replica", "errors_by_step", "bounds")
            or k in ("shoppers", "unanswered_at_end")
        }
        if extra:
            print(f"{'':10} {extra}")
    print()
    for target in targets:
        state = {True: "met", False: "MISSED", None: "not run"}[target["met"]]
        print(f"target {target['scenario']:9} {target['target']:45} {state} ({target['value']})")


if __name__ == "__main__":
    sys.exit(main())
