"""One bench run: servers up, scenarios in rounds, servers down.

Floors and the shop run side by side (an idle server costs nothing) and each round
measures them one after the other, so drift on a shared machine hits both. The
1,000-shopper run and the nginx run come last, once each.
"""

import time
from collections import defaultdict
from contextlib import ExitStack

from sqlalchemy import create_engine, text

from mercato.ops.embedded import free_port
from mercato_payments_stripe.embedded import EmbeddedStripe

from . import dataset
from .cart import redis_database
from .config import BenchConfig, read_production, server_adjustments, write_app_ini
from .measure import Result
from .scenarios import (
    FLOOR_OF,
    FLOORS,
    JOURNEYS,
    PAGES,
    floor_lines,
    measure_journey,
    measure_wrk,
    open_sessions,
    page_lines,
    prime_page_cache,
    with_carts,
)
from .servers import AppServer, FloorServer, Nginx
from .stripe_floor import measure as measure_stripe_floor

SESSIONS = 2000
# The 1,000 shoppers arrive over this many seconds before the measured minute.
SHOPPERS_WARMUP = 30.0
# The cart's rounds warm up until each process has been asked for every one of the
# 2,000 SKUs (each reaches a process every 3-4 s): 2 s measured each process's first
# pass over them (half the answers an add looked up were misses, counted in one run),
# not a shop adding at that rate. Longer would fill the 2,000 one-line carts up to
# their 99 units, and the answers a round keeps expire (60 s) all together.
CART_WARMUP = 10.0


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def show(result: Result, round_number: int) -> None:
    say(
        f"round {round_number} {result.name:10} {result.rps:8.0f} req/s  p50 {result.p50:7.1f}"
        f"  p95 {result.p95:7.1f}  p99 {result.p99:7.1f} ms  errors {result.errors}"
        f"  RSS {result.peak_rss / 2**20:5.0f} MB"
        + (
            f"  CPU {result.notes['server_cpu_us_per_request']} µs/req"
            if "server_cpu_us_per_request" in result.notes
            else ""
        )
    )
    if "checkouts_per_s" in result.notes or "orders_per_s" in result.notes:
        orders = result.notes.get("checkouts_per_s", result.notes.get("orders_per_s"))
        shown = ("place_order", "of_", "server_cpu")
        extra = {k: v for k, v in result.notes.items() if k.startswith(shown)}
        say(f"    {orders} orders/s {extra}")
    if result.notes.get("errors_by_step"):
        say(f"    errors by step: {result.notes['errors_by_step']}")
    for example in result.notes.get("error_examples", []):
        say(f"    {example}")


def floor_settings(database_url: str, redis_url: str) -> dict:
    app = read_production()["app:main"]
    pool = {k: v for k, v in app.items() if k.startswith(("sqlalchemy.", "redis."))}
    return {
        **pool,
        "sqlalchemy.url": database_url,
        "redis.url": redis_url,
        "mercato.secret": "floor",
    }


def run(config: BenchConfig, stack: ExitStack) -> dict[str, list[Result]]:
    (config.folder / "logs").mkdir(parents=True, exist_ok=True)
    stripe = EmbeddedStripe()
    stack.callback(stripe.stop)
    results: dict[str, list[Result]] = {}
    if set(config.scenarios) - {"scaled"}:
        results.update(single_servers_run(config, stack, stripe))
    if "scaled" in config.scenarios:
        from .scaled import scaled_run  # it builds on nginx_run below

        results.update(scaled_run(config, stack, stripe))
    return results


def single_servers_run(config: BenchConfig, stack: ExitStack, stripe) -> dict[str, list[Result]]:
    """Every scenario but ``scaled``, on the machine's PostgreSQL and Redis."""
    folder = config.folder
    logs = folder / "logs"
    redis_url = stack.enter_context(redis_database())
    database_url = dataset.database_url(config)
    port = free_port()
    ini = write_app_ini(
        folder / "app.ini",
        database_url=database_url,
        redis_url=redis_url,
        port=port,
        workers=config.workers,
        threads=config.threads,
        stripe=stripe.settings(timeout="10"),
    )
    shop = dataset.prepare(config, ini)
    wanted = set(config.scenarios)
    results: dict[str, list[Result]] = defaultdict(list)

    pages = [p for p in PAGES if p in wanted]
    journeys = [j for j in JOURNEYS if j in wanted]
    floors = [f for f in FLOORS if f in wanted or any(FLOOR_OF.get(s) == f for s in wanted)]
    if pages or journeys or floors or {"shoppers", "shoppers-5000"} & wanted:
        app = AppServer(ini, port, config.workers, logs / "app.log")
        stack.callback(app.stop)
        say(f"mercato serve: {config.workers} workers × {config.threads} threads on {app.url}")
        adjustments = server_adjustments(config.threads)
        settings = floor_settings(database_url, redis_url)
        servers = {}
        for kind in floors:
            servers[kind] = FloorServer(
                kind, config.workers, adjustments, settings, logs / f"floor-{kind}.log"
            )
            stack.callback(servers[kind].stop)
        sessions = open_sessions(app.url, SESSIONS) if pages else []
        lines = {page: page_lines(page, shop, sessions) for page in pages if page != "cart"}
        wrk_args = (config.connections, config.seconds, config.warmup, folder / "wrk")
        for round_number in range(1, config.rounds + 1):
            for kind in floors:
                result = measure_wrk(kind, servers[kind], floor_lines(kind), *wrk_args)
                results[kind].append(result)
                show(result, round_number)
            for page in pages:
                if page == "product":
                    primed = prime(app.url, shop)
                args = wrk_args
                if page == "cart":
                    if page not in lines:  # just before its first round: pages ran cartless
                        lines[page] = page_lines(page, shop, with_carts(app.url, shop, sessions))
                    args = (
                        *wrk_args[:2],
                        max(config.warmup, CART_WARMUP),
                        *wrk_args[3:],
                    )
                result = measure_wrk(page, app, lines[page], *args)
                if page == "product":
                    result.notes["priming_pages_per_s"] = primed
                results[page].append(result)
                show(result, round_number)
                if page == "search":
                    # The latency target is the page's own time, not a queue's: one
                    # shopper searching, one search at a time.
                    light = (1, *wrk_args[1:])
                    result = measure_wrk("search-1", app, lines[page], *light)
                    results["search-1"].append(result)
                    show(result, round_number)
            for journey in journeys:
                stripe.reset()
                shoppers = config.connections // 2 if journey == "checkout" else config.connections
                floor = None
                if journey == "checkout":
                    # Stripe's floor just before: the same calls at the same concurrency
                    # from a bare script, against the same localstripe (bench.stripe_floor).
                    floor = measure_stripe_floor(
                        stripe.url, shoppers, config.workers, config.seconds, config.warmup
                    )
                    results["stripe"].append(floor)
                    show(floor, round_number)
                    stripe.reset()
                result = measure_journey(
                    journey, app, stripe.url, shop, shoppers, config.seconds, config.warmup,
                    seed=round_number,
                )  # fmt: skip
                if floor is not None and floor.rps:
                    orders = result.notes.get("checkouts_per_s", 0.0)
                    result.notes["stripe_floor_orders_per_s"] = round(floor.rps, 1)
                    result.notes["of_stripe_floor"] = round(orders / floor.rps, 3)
                results[journey].append(result)
                show(result, round_number)
        if "shoppers" in wanted:
            stripe.reset()
            say(
                f"{config.shoppers} concurrent shoppers for {config.shoppers_seconds:.0f} s, "
                f"think time {config.think[0]:g}-{config.think[1]:g} s …"
            )
            result = measure_journey(
                "shoppers", app, stripe.url, shop, config.shoppers, config.shoppers_seconds,
                warmup=SHOPPERS_WARMUP, think=config.think,
            )  # fmt: skip
            results["shoppers"].append(result)
            show(result, 1)
        if "shoppers-5000" in wanted:
            stripe.reset()
            result = many_shoppers(config, app, stripe, shop)
            results["shoppers-5000"].append(result)
            show(result, 1)
        app.stop()
        for server in servers.values():
            server.stop()
    if "nginx" in wanted:
        results.update(nginx_run(config, stack, database_url, redis_url, stripe, shop))
    return results


def many_shoppers(config: BenchConfig, app: AppServer, stripe, shop) -> Result:
    """``config.shoppers_large`` (5,000) shoppers on the app reached directly, as the
    1,000 are, with the same think time. What bounds it is said before it runs: each
    shopper keeps one keep-alive connection, and a waitress process stops accepting at
    its ``connection_limit`` (the rest wait in the shared listen backlog, then in SYN
    retries); the load generator needs a file descriptor per shopper."""
    import resource

    count = config.shoppers_large
    server = read_production()["server:main"]
    limit = int(server.get("connection_limit", 100))
    backlog = int(server.get("backlog", 1024))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 256 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (count + 256, hard))
        soft = count + 256
    accepted = limit * config.workers
    bounds = {
        "shoppers": count,
        "connection_limit_total": accepted,
        "listen_backlog": backlog,
        "generator_nofile": soft,
    }
    waiting = f", the other {count - accepted:,} wait (backlog {backlog:,})"
    say(
        f"{count:,} concurrent shoppers for {config.shoppers_seconds:.0f} s, think time "
        f"{config.think[0]:g}-{config.think[1]:g} s: waitress accepts {limit:,} connections "
        f"per process × {config.workers} = {accepted:,}{waiting if count > accepted else ''}"
        f"; generator's open-file limit {soft:,} …"
    )
    if soft < count + 64:
        raise SystemExit(f"bench: ulimit -n is {soft}: {count:,} shoppers need {count + 64:,}")
    result = measure_journey(
        "shoppers-5000", app, stripe.url, shop, count, config.shoppers_seconds,
        warmup=SHOPPERS_WARMUP, think=config.think, seed=5000,
    )  # fmt: skip
    result.notes["bounds"] = bounds
    return result


def prime(url: str, shop) -> float:
    """Every product page of the scenario asked once, just before its round: the round
    then measures a warm page cache, as in a shop open for a while. Pages live
    ``mercato.page_cache.max_age`` (300 s) and the other scenarios between two rounds
    take about that long, so each round primes again. Returns the priming's pages per
    second (16 at a time): in the first round, what pages cost when rendered, not
    cached; later rounds find part of them still cached."""
    started = time.monotonic()
    failures = prime_page_cache(url, shop)
    seconds = time.monotonic() - started
    say(
        f"page cache primed: {len(shop.products):,} product pages in {seconds:.1f} s "
        f"({len(shop.products) / seconds:.0f} pages/s, {failures} not 200)"
    )
    return round(len(shop.products) / seconds, 1)


class Front:
    """nginx's address, with the memory of the app servers behind it."""

    def __init__(self, nginx: Nginx, apps: list[AppServer]):
        self.url = nginx.url
        self.apps = apps

    def pids(self) -> list[int]:
        return [pid for app in self.apps for pid in app.pids()]


def nginx_run(
    config, stack, database_url, redis_url, stripe, shop, name="nginx", extra=None
) -> dict:
    """The mixed visit (checkouts included) through nginx to one app process, then to
    two; then the books: every confirmed checkout is an order, paid, its stock taken.
    ``extra`` settings go to both apps; the runs are ``<name>-1`` and ``<name>-2``."""
    folder = config.folder
    apps = []
    for number in (1, 2):
        port = free_port()
        ini = write_app_ini(
            folder / f"{name}-app{number}.ini",
            database_url=database_url,
            redis_url=redis_url,
            port=port,
            workers=1,
            threads=config.threads,
            stripe=stripe.settings(timeout="10"),
            extra=extra,
        )
        app = AppServer(ini, port, 1, folder / "logs" / f"{name}-app{number}.log")
        stack.callback(app.stop)
        apps.append(app)
    fronts = {}
    for count in (1, 2):
        nginx = Nginx(folder / f"{name}-{count}", [app.port for app in apps[:count]])
        stack.callback(nginx.stop)
        fronts[count] = Front(nginx, apps[:count])
    say(f"{name}: nginx in front of one app process, then two (mixed visits, checkouts too)")
    stripe.reset()
    before = books(database_url)
    runs: dict[str, list[Result]] = defaultdict(list)
    placed = 0
    for round_number in range(1, config.rounds + 1):
        for count, front in fronts.items():
            result = measure_journey(
                "mixed", front, stripe.url, shop, config.connections, config.seconds,
                config.warmup, seed=100 + round_number,
            )  # fmt: skip
            result.name = f"{name}-{count}"
            placed += result.notes["placed_total"]
            runs[result.name].append(result)
            show(result, round_number)
    after = books(database_url)
    intents = stripe.payment_intents()
    captured = sum(1 for pi in intents if pi.status == "succeeded")
    orders = after["orders"] - before["orders"]
    consistency = {
        "confirmed_checkouts": placed,
        "new_orders": orders,
        "new_orders_paid": after["paid"] - before["paid"],
        "units_ordered": after["units"] - before["units"],
        "stock_taken": before["stock"] - after["stock"],
        "payments_captured_at_stripe": captured,
        "negative_stock_rows": after["negative"],
    }
    consistency["nothing_lost"] = (
        placed == orders == consistency["new_orders_paid"] == captured
        and consistency["units_ordered"] == consistency["stock_taken"]
        and after["negative"] == 0
    )
    best = {name: max(r.rps for r in rounds) for name, rounds in runs.items()}
    last = runs[f"{name}-2"][-1]
    last.notes["scaling"] = round(best[f"{name}-2"] / best[f"{name}-1"], 2)
    last.notes["consistency"] = consistency
    for app in apps:
        app.stop()
    say(f"{name}: two processes / one = {last.notes['scaling']}x; books: {consistency}")
    return runs


def books(database_url: str) -> dict:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM orders) AS orders, "
                    "(SELECT count(*) FROM orders WHERE status = 'paid') AS paid, "
                    "(SELECT coalesce(sum(quantity), 0) FROM order_lines) AS units, "
                    "(SELECT coalesce(sum(stock), 0) FROM catalog_variants "
                    " WHERE product_id % :every = 0) AS stock, "
                    "(SELECT count(*) FROM catalog_variants WHERE stock < 0) AS negative"
                ),
                {"every": dataset.HOT_EVERY},
            ).one()
    finally:
        engine.dispose()
    return dict(row._mapping)
