"""The Stripe floor: a bare script making a checkout's Stripe calls, and nothing else,
against the bench's localstripe, at the checkout scenario's concurrency.

Each "order" is what one bench checkout asks of localstripe: the card
(``POST /v1/payment_methods``, which the shopper's Stripe.js makes), then what
payments_stripe sends from ``place_order``: the PaymentIntent created and confirmed
with ``capture_method=manual`` (``POST /v1/payment_intents``), then captured
(``POST /v1/payment_intents/{id}/capture``), each with a deterministic idempotency key,
through the real stripe SDK and the same HTTP client settings as the plugin
(``stripe.RequestsClient``, one keep-alive connection per thread). The floor runs in as
many processes as the app has workers, the threads split between them, so the same
number of checkouts are in flight as shoppers in the checkout scenario.

Its orders per second are the most the checkout could make if Mercato cost nothing;
the checkout's orders/s divided by them says how much of the time is Mercato's.

    .venv/bin/python -m bench.stripe_floor --url http://127.0.0.1:PORT --concurrency 16
"""

import argparse
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import stripe

from mercato_payments_stripe.embedded import API_KEY

from .measure import Result, percentile

CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2030", "cvc": "123"}
AMOUNT = 4_990  # minor units: any amount; localstripe does the same work for each


def _client(url: str) -> stripe.StripeClient:
    # The plugin's client (mercato_payments_stripe.gateway.make_client), the bench's
    # settings: timeout 10 s, no network retries.
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": url.rstrip("/")},
        http_client=stripe.RequestsClient(timeout=10),
        max_network_retries=0,
    )


def _one_order(client: stripe.StripeClient, key: str) -> tuple[float, float]:
    """One checkout's calls; returns (seconds for all, seconds for the PaymentIntent's
    calls: what place_order waits for)."""
    began = time.perf_counter()
    card = client.v1.payment_methods.create(params={"type": "card", "card": CARD})
    placed = time.perf_counter()
    pi = client.v1.payment_intents.create(
        params={
            "amount": AMOUNT,
            "currency": "eur",
            "payment_method": card.id,
            "payment_method_types": ["card"],
            "capture_method": "manual",
            "confirm": True,
            "metadata": {"mercato_checkout": key, "mercato_key": f"{key}:authorize"},
        },
        options={"idempotency_key": f"{key}:authorize"},
    )
    if pi.status != "requires_capture":
        raise RuntimeError(f"stripe floor: {pi.id} is {pi.status}, not requires_capture")
    pi = client.v1.payment_intents.capture(
        pi.id,
        params={"amount_to_capture": AMOUNT},
        options={"idempotency_key": f"{key}:capture"},
    )
    if pi.status != "succeeded":
        raise RuntimeError(f"stripe floor: {pi.id} is {pi.status} after capture")
    done = time.perf_counter()
    return done - began, done - placed


def _worker(url: str, threads: int, start_at: float, stop_at: float) -> dict:
    """``threads`` threads making orders one after the other until ``stop_at`` (wall
    clock); each finished order is recorded with its end time."""
    client = _client(url)
    done: list[tuple[float, float, float]] = []  # (end, whole, payment intent part)
    errors: list[str] = []
    lock = threading.Lock()

    def loop():
        while time.time() < start_at:
            time.sleep(0.005)
        while time.time() < stop_at:
            try:
                whole, intent = _one_order(client, f"floor:{uuid.uuid4().hex}")
            except Exception as exc:  # counted and shown, as the shop's errors are
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                done.append((time.time(), whole, intent))

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return {"done": done, "errors": errors}


def measure(url: str, concurrency: int, processes: int, seconds: float, warmup: float) -> Result:
    """``concurrency`` orders in flight over ``processes`` processes for ``warmup`` +
    ``seconds``; the orders that ended in the last ``seconds`` are counted."""
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    context = get_context("spawn")  # no inherited threads or sockets from the bench
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        # Processes start (import the SDK) before the clock does.
        list(pool.map(_ready, range(processes)))
        start_at = time.time() + 0.5
        measured_from = start_at + warmup
        stop_at = measured_from + seconds
        parts = list(
            pool.map(_worker, [url] * processes, shares, [start_at] * processes,
                     [stop_at] * processes)
        )  # fmt: skip
    counted = [d for part in parts for d in part["done"] if d[0] >= measured_from]
    errors = [e for part in parts for e in part["errors"]]
    intent = sorted(d[2] for d in counted)
    whole = sorted(d[1] for d in counted)
    result = Result(
        "stripe",
        requests=len(counted),
        seconds=seconds,
        p50=percentile(intent, 50),
        p95=percentile(intent, 95),
        p99=percentile(intent, 99),
        errors=len(errors),
    )
    result.notes.update(
        {
            "unit": "orders",
            "orders_per_s": round(len(counted) / seconds, 1),
            "stripe_requests_per_s": round(3 * len(counted) / seconds, 1),
            "order_p50_ms": round(percentile(whole, 50), 1),
            "order_p95_ms": round(percentile(whole, 95), 1),
            "concurrency": concurrency,
            "processes": processes,
        }
    )
    if errors:
        result.notes["error_examples"] = errors[:5]
    return result


def _ready(_index: int) -> bool:
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stripe_floor", description=__doc__)
    parser.add_argument("--url", required=True, help="localstripe's address")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    args = parser.parse_args(argv)
    result = measure(args.url, args.concurrency, args.processes, args.seconds, args.warmup)
    print(json.dumps(result.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
