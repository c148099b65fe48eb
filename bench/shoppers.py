"""Shoppers for the journeys wrk cannot express: each one a browser with its own cookies
and keep-alive connection, reading the CSRF token from the pages it gets, posting the
storefront's forms and following its redirects.

One asyncio loop drives them all (1,000 shoppers are 1,000 sockets, not threads), with a
small HTTP/1.1 client of its own: cheap enough per request that the generator is not
what is measured. Cards are made at localstripe as Stripe.js would, outside the
measured requests.
"""

import asyncio
import random
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from mercato_payments_stripe.embedded import API_KEY

from .dataset import CUSTOMER_PASSWORD, Shop, customer_email
from .measure import Result, percentile

CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
TIMEOUT = 60.0
DRAIN = 5.0
CARD = {
    "type": "card",
    "card[number]": "4242424242424242",
    "card[exp_month]": "12",
    "card[exp_year]": "2030",
    "card[cvc]": "123",
}


class HTTPError(Exception):
    pass


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    @property
    def location(self) -> str:
        return urlsplit(self.headers.get("location", "")).path


class Browser:
    """One shopper's browser: cookies and one keep-alive connection."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}
        self.token = ""
        self._reader = self._writer = None
        self.connect_seconds: float | None = None  # the last new connection's, once read

    async def _connect(self) -> None:
        # Bounded like a read: a server that stops accepting (its connection_limit
        # reached, its backlog full) is an error after TIMEOUT, not a shopper stuck for
        # the kernel's two minutes of SYN retries.
        began = time.perf_counter()
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), TIMEOUT
        )
        self.connect_seconds = time.perf_counter() - began

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def send(self, method: str, path: str, body: bytes = b"", headers=None) -> Answer:
        if self._writer is None:
            await self._connect()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            answer = await asyncio.wait_for(self._read(), TIMEOUT)
        except BaseException:
            self.close()
            raise
        if answer.headers.get("connection", "").lower() == "close":
            self.close()
        return answer

    async def _read(self) -> Answer:
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in header_lines:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                self._remember(value)
            headers[name] = value
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int((await self._reader.readuntil(b"\r\n")).strip(), 16):
                body += await self._reader.readexactly(size + 2)
                body = body[:-2]
            await self._reader.readuntil(b"\r\n")
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", 0)))
        return Answer(int(status_line.split()[1]), headers, body)

    def _remember(self, value: str) -> None:
        pair = value.split(";", 1)[0]
        name, _, cookie = pair.partition("=")
        expired = "max-age=0" in value.lower() or not cookie.strip('"')
        if expired:
            self.cookies.pop(name.strip(), None)
        else:
            self.cookies[name.strip()] = cookie


@dataclass
class Stats:
    """Latencies by step, errors with a few examples, completed checkouts."""

    latencies: dict = field(default_factory=lambda: defaultdict(list))
    errors: dict = field(default_factory=lambda: defaultdict(int))
    examples: list = field(default_factory=list)
    connects: list = field(default_factory=list)  # seconds to open a new connection
    # Requests sent and not answered yet: when each was sent. Those still here when the
    # run ends are reported, not dropped (they are the slowest of all); like answered
    # ones, they count whenever they were sent.
    in_flight: dict = field(default_factory=dict)
    checkouts: int = 0  # while measuring
    unfinished: list = field(default_factory=list)  # set when measuring ends
    placed: int = 0  # every order the app confirmed, warm-up included
    measuring: bool = True

    def error(self, step: str, message: str) -> None:
        if not self.measuring:
            return
        self.errors[step] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{step}: {message[:300]}")

    def result(self, name: str, seconds: float) -> Result:
        """With the requests sent while measuring and still unanswered when it ended
        (``unfinished``: how long each had waited): their final times are at least that,
        so a p99 that counts them is a lower bound of the true one, reported beside it."""
        unfinished = self.unfinished
        every = sorted(x for values in self.latencies.values() for x in values)
        notes = {"checkouts": self.checkouts} if self.checkouts else {}
        if self.errors:
            notes["errors_by_step"] = dict(sorted(self.errors.items()))
        if self.connects:
            connects = sorted(self.connects)
            notes["connect_p50_ms"] = round(percentile(connects, 50), 1)
            notes["connect_p99_ms"] = round(percentile(connects, 99), 1)
            notes["connect_max_ms"] = round(connects[-1] * 1000, 1)
        waited = sorted(unfinished)
        notes["unanswered_at_end"] = len(waited)
        if waited:
            notes["unanswered_longest_s"] = round(waited[-1], 1)
        notes["p99_with_unanswered_ms"] = round(percentile(sorted(every + waited), 99), 1)
        return Result(
            name,
            requests=len(every),
            seconds=seconds,
            p50=percentile(every, 50),
            p95=percentile(every, 95),
            p99=percentile(every, 99),
            errors=sum(self.errors.values()),
            notes=notes,
        )

    def step_result(self, step: str, seconds: float) -> Result:
        values = sorted(self.latencies.get(step, []))
        return Result(
            step,
            requests=len(values),
            seconds=seconds,
            p50=percentile(values, 50),
            p95=percentile(values, 95),
            p99=percentile(values, 99),
            errors=self.errors.get(step, 0),
        )


# The method of the sample zones (``mercato_shipping.sample``) for the address in France.
SHIPPING = "eu-standard"


class Shopper:
    """A shopper's visit, step by step; every request timed and checked."""

    def __init__(self, url: str, stripe_url: str, shop: Shop, stats: Stats, rng, think):
        self.url = url
        self.stripe_url = stripe_url
        self.shop = shop
        self.stats = stats
        self.rng = rng
        self.think = think  # (low, high) seconds between pages, or None
        self.browser = Browser(url)

    async def pause(self) -> None:
        if self.think:
            await asyncio.sleep(self.rng.uniform(*self.think))

    async def step(self, name: str, method: str, path: str, form=None, expect=(200,)) -> Answer:
        body, headers = b"", None
        if form is not None:
            body = urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        began = time.perf_counter()
        ticket = object()
        self.stats.in_flight[ticket] = began
        try:
            answer = await self.browser.send(method, path, body, headers)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            self.stats.error(name, f"{type(exc).__name__} {exc} on {method} {path}")
            raise HTTPError(name) from None
        finally:
            self.stats.in_flight.pop(ticket, None)
        if self.stats.measuring:
            self.stats.latencies[name].append(time.perf_counter() - began)
            if self.browser.connect_seconds is not None:
                self.stats.connects.append(self.browser.connect_seconds)
        self.browser.connect_seconds = None
        if answer.status not in expect:
            self.stats.error(name, f"{answer.status} on {method} {path}: {answer.body[:200]!r}")
            raise HTTPError(name)
        if found := CSRF.search(answer.body):
            self.browser.token = found.group(1).decode()
        return answer

    async def get(self, name: str, path: str) -> Answer:
        await self.pause()
        return await self.step(name, "GET", path)

    async def post(self, name: str, path: str, form: dict) -> Answer:
        """A form posted, and the page it redirects to (what a browser shows next)."""
        await self.pause()
        form = {**form, "csrf_token": self.browser.token}
        answer = await self.step(name, "POST", path, form, (303,))
        return await self.step(name + "_next", "GET", answer.location)

    # -- visits -------------------------------------------------------------------------

    async def log_in(self, customer: int) -> None:
        await self.get("login", "/login")
        await self.post(
            "login", "/login", {"email": customer_email(customer), "password": CUSTOMER_PASSWORD}
        )

    async def browse(self) -> None:
        shop, rng = self.shop, self.rng
        await self.get("home", "/")
        category = rng.choice(shop.categories)
        await self.get("category", f"/c/{category}")
        if rng.random() < 0.3:
            await self.get("category", f"/c/{category}?page={rng.randint(2, 20)}")
        await self.get("search", "/search?" + urlencode({"q": rng.choice(shop.searches)}))
        for _ in range(2):
            await self.get("product", f"/p/{rng.choice(shop.products)}")

    async def add_to_cart(self) -> None:
        slug, sku = self.rng.choice(self.shop.hot)
        await self.get("product", f"/p/{slug}")
        await self.post("cart_add", "/cart/add", {"sku": sku, "quantity": "1"})

    async def check_out(self) -> None:
        await self.get("checkout", "/checkout/address")
        address = {
            "email": f"shopper{self.rng.randrange(10**9)}@bench.mercato.test",
            "name": "Ada Lovelace",
            "line1": "12 Analytical Street",
            "postal_code": "75001",
            "city": "Paris",
            "country": "FR",
        }
        await self.post("checkout_address", "/checkout/address", address)
        # The shipping step (the page the address redirects to), then the review.
        await self.post("checkout_shipping", "/checkout/shipping", {"shipping_method": SHIPPING})
        await self.get("checkout_payment", "/checkout/payment")
        card = await self.card()
        await self.pause()
        form = {
            "method": "stripe_card",
            "details.payment_method": card,
            "csrf_token": self.browser.token,
        }
        answer = await self.step("place_order", "POST", "/checkout/payment", form, (303,))
        # Counted whether measured or not: the nginx run compares it with the orders.
        self.stats.placed += 1
        if self.stats.measuring:
            self.stats.checkouts += 1
        await self.step("place_order_next", "GET", answer.location)

    async def card(self) -> str:
        """A PaymentMethod made at localstripe, as Stripe.js makes it in the browser."""
        stripe = Browser(self.stripe_url)
        try:
            answer = await stripe.send(
                "POST",
                "/v1/payment_methods",
                urlencode(CARD).encode(),
                {
                    "Authorization": f"Bearer {API_KEY}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
        finally:
            stripe.close()
        found = re.search(rb'"id":\s*"(pm_[^"]+)"', answer.body)
        if answer.status != 200 or not found:
            self.stats.error("stripe_card", f"{answer.status} {answer.body[:200]!r}")
            raise HTTPError("stripe_card")
        return found.group(1).decode()

    def new_visitor(self) -> None:
        self.browser.close()
        self.browser = Browser(self.url)


@dataclass
class Journey:
    """What share of visits log in, add to the cart and check out."""

    browse: bool = True
    login: float = 0.05
    cart: float = 0.5
    checkout: float = 0.3  # of the visits that added to the cart


MIXED = Journey()
CHECKOUT = Journey(browse=False, login=0.0, cart=1.0, checkout=1.0)
ADD_TO_CART = Journey(browse=False, login=0.0, cart=1.0, checkout=0.0)


class Customers:
    """Hands out customer numbers so that no two shoppers share an account (and a cart)."""

    def __init__(self, count: int):
        self.count = count
        self.next = 0

    def take(self) -> int:
        self.next += 1
        return (self.next - 1) % self.count + 1


async def _shopper_loop(shopper: Shopper, journey: Journey, customers, deadline, stagger):
    await asyncio.sleep(stagger)
    rng = shopper.rng
    while time.monotonic() < deadline:
        try:
            if journey.login and rng.random() < journey.login:
                await shopper.log_in(customers.take())
            if journey.browse:
                await shopper.browse()
            if rng.random() < journey.cart:
                await shopper.add_to_cart()
                if rng.random() < journey.checkout:
                    await shopper.check_out()
        except HTTPError:
            pass
        # The next visit is another shopper: new cookies, new connection.
        shopper.new_visitor()
    shopper.browser.close()


async def _run(url, stripe_url, shop, journey, shoppers, seconds, warmup, think, seed):
    stats = Stats(measuring=False)
    customers = Customers(shop.customers)
    started = time.monotonic()
    deadline = started + warmup + seconds
    # Shoppers arrive spread over the warm-up, so the measured window sees visits at
    # every stage (a checkout comes a minute into a visit with think time).
    spread = warmup if think else 0.5
    tasks = []
    for number in range(shoppers):
        rng = random.Random(seed * 100_003 + number)
        shopper = Shopper(url, stripe_url, shop, stats, rng, think)
        stagger = rng.uniform(0, spread)
        tasks.append(
            asyncio.create_task(_shopper_loop(shopper, journey, customers, deadline, stagger))
        )
    await asyncio.sleep(warmup)
    stats.measuring = True
    measured_from = time.monotonic()
    await asyncio.sleep(max(0.0, deadline - measured_from))
    stats.measuring = False
    measured = time.monotonic() - measured_from
    now = time.perf_counter()
    stats.unfinished = [now - sent for sent in stats.in_flight.values()]
    # Requests in flight get a moment to finish (they are no longer counted).
    await asyncio.wait(tasks, timeout=DRAIN)
    for task in tasks:
        task.cancel()
    return stats, measured


def run_journeys(
    url: str,
    stripe_url: str,
    shop: Shop,
    journey: Journey,
    shoppers: int,
    seconds: float,
    warmup: float,
    think: tuple[float, float] | None = None,
    seed: int = 1,
) -> tuple[Stats, float]:
    """``shoppers`` concurrent shoppers doing ``journey`` for ``seconds`` (after a warm-up
    whose requests are not counted); returns the stats and the measured seconds."""
    return asyncio.run(_run(url, stripe_url, shop, journey, shoppers, seconds, warmup, think, seed))
