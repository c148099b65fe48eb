"""The scenarios: what each one sends, to which server, and what it is compared with.

Pages and the add-to-cart call are single requests replayed by wrk with the cookies of
prepared sessions (shoppers who keep their cookies, as browsers do); checkout and the
mixed journey are shoppers (``bench.shoppers``). Each returns a ``Result``.
"""

import asyncio
import json
import random
from dataclasses import dataclass
from urllib.parse import urlencode

from .dataset import Shop
from .measure import Result, request_line, wrk
from .servers import Server, ServerUsage
from .shoppers import ADD_TO_CART, CHECKOUT, MIXED, Browser, run_journeys

FLOORS = ("hello", "select", "redis")
PAGES = ("healthz", "home", "category", "product", "search", "cart")
JOURNEYS = ("checkout", "mixed")
# What each scenario's requests per second are compared with.
FLOOR_OF = {
    "healthz": "hello",
    "home": "select",
    "category": "select",
    "product": "select",
    "search": "select",
    "search-1": "select",
    "cart": "redis",
    "checkout": "select",
    "mixed": "select",
}


@dataclass
class Session:
    cookie: str
    token: str


async def _open_sessions(url: str, count: int, parallel: int = 32) -> list[Session]:
    sessions: list[Session] = []

    async def opener(share: int):
        for _ in range(share):
            browser = Browser(url)
            answer = await browser.send("GET", "/api/session/csrf")
            browser.close()
            token = json.loads(answer.body)["csrf_token"]
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            sessions.append(Session(cookie, token))

    await asyncio.gather(*(opener(count // parallel + 1) for _ in range(parallel)))
    return sessions[:count]


def open_sessions(url: str, count: int) -> list[Session]:
    """``count`` shoppers' sessions, each with its cookie and CSRF token."""
    return asyncio.run(_open_sessions(url, count))


async def _first_adds(url: str, sessions: list[Session], skus: list[str], parallel: int = 32):
    carted: list[Session | None] = [None] * len(sessions)

    async def adder(indexes):
        for index in indexes:
            session = sessions[index]
            browser = Browser(url)
            browser.cookies = dict(pair.split("=", 1) for pair in session.cookie.split("; "))
            body = json.dumps({"sku": skus[index % len(skus)], "quantity": 1}).encode()
            headers = {"X-CSRF-Token": session.token, "Content-Type": "application/json"}
            answer = await browser.send("POST", "/api/cart/lines", body, headers)
            browser.close()
            if answer.status != 200:
                raise SystemExit(f"bench: a first add to the cart answered {answer.status}")
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            carted[index] = Session(cookie, session.token)

    await asyncio.gather(*(adder(range(n, len(sessions), parallel)) for n in range(parallel)))
    return carted


def with_carts(url: str, shop: Shop, sessions: list[Session]) -> list[Session]:
    """The sessions after each one's first add (its SKU, as the cart scenario adds it),
    with the cart's cookie a browser keeps from that answer and sends from then on."""
    return asyncio.run(_first_adds(url, sessions, [sku for _slug, sku in shop.hot]))


def page_lines(kind: str, shop: Shop, sessions: list[Session], seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for index, session in enumerate(sessions):
        if kind == "healthz":
            path = "/healthz"  # the kernel's whole request cycle around a trivial view
        elif kind == "home":
            path = "/"
        elif kind == "category":
            slug = shop.categories[index % len(shop.categories)]
            page = rng.choice((1, 1, 1, 2, 3, 5, 10))
            path = f"/c/{slug}" + (f"?page={page}" if page > 1 else "")
        elif kind == "product":
            path = f"/p/{shop.products[index % len(shop.products)]}"
        elif kind == "search":
            path = "/search?" + urlencode({"q": shop.searches[index % len(shop.searches)]})
        else:  # cart: one add per request, each session its own SKU (one line)
            sku = shop.hot[index % len(shop.hot)][1]
            lines.append(
                request_line(
                    "POST",
                    "/api/cart/lines",
                    session.cookie,
                    session.token,
                    {"sku": sku, "quantity": 1},
                )
            )
            continue
        lines.append(request_line("GET", path, session.cookie))
    return lines


async def _prime(url: str, paths: list[str], parallel: int = 16) -> int:
    queue = list(paths)
    failures = 0

    async def fetcher():
        nonlocal failures
        browser = Browser(url)
        try:
            while queue:
                answer = await browser.send("GET", queue.pop())
                failures += answer.status != 200
        finally:
            browser.close()

    await asyncio.gather(*(fetcher() for _ in range(parallel)))
    return failures


def prime_page_cache(url: str, shop: Shop) -> int:
    """Request every product page of the scenario once: the page cache is then as
    warm as in a shop that has been open for a while (its hot products cached).
    Returns how many answers were not 200."""
    return asyncio.run(_prime(url, [f"/p/{slug}" for slug in shop.products]))


def floor_lines(kind: str) -> list[str]:
    if kind == "redis":
        return [request_line("POST", f"/{index}") for index in range(2000)]
    return [request_line("GET", "/")]


def measure_wrk(name, server: Server, lines, connections, seconds, warmup, folder) -> Result:
    if warmup:
        wrk(name, server.url, lines, connections, warmup, folder)
    with ServerUsage(server.pids) as usage:
        result = wrk(name, server.url, lines, connections, seconds, folder)
    result.peak_rss = usage.peak
    if result.requests:
        result.notes["server_cpu_us_per_request"] = round(usage.cpu / result.requests * 1e6)
    return result


def measure_journey(
    name, server: Server, stripe_url, shop, shoppers, seconds, warmup, think=None, seed=1
) -> Result:
    journey = {"checkout": CHECKOUT, "mixed": MIXED, "cart_journey": ADD_TO_CART}.get(name, MIXED)
    with ServerUsage(server.pids) as usage:
        stats, measured = run_journeys(
            server.url, stripe_url, shop, journey, shoppers, seconds, warmup, think, seed
        )
    result = stats.result(name, measured)
    result.peak_rss = usage.peak
    result.notes["shoppers"] = shoppers
    if stats.checkouts:
        order = stats.step_result("place_order", measured)
        result.notes["checkouts_per_s"] = round(stats.checkouts / measured, 1)
        result.notes["place_order_p50_ms"] = round(order.p50, 1)
        result.notes["place_order_p95_ms"] = round(order.p95, 1)
        result.notes["place_order_p99_ms"] = round(order.p99, 1)
    result.notes["placed_total"] = stats.placed
    if stats.placed:
        # Over the whole run, warm-up included, as ``placed_total`` is: every order's
        # journey (product page, add, checkout pages, payment) in the app's processes.
        result.notes["server_cpu_ms_per_order"] = round(usage.cpu / stats.placed * 1e3, 1)
    if stats.examples:
        result.notes["error_examples"] = stats.examples
    return result
