"""Where a checkout's time goes: the bench's shop (2 workers × 16 threads) and
localstripe, the checkout journey (16 shoppers) for SECONDS while py-spy records every
worker with ``--idle`` (waits on PostgreSQL, Redis and Stripe count: they are the
shopper's time), then the samples of the place-order request summed by the deepest
frame of Mercato's own code.

    .venv/bin/python -m bench.profile_checkout --seconds 16 --rate 47

Needs the bench's database (``python -m bench`` built it; it is reused, never rebuilt)
and py-spy (``.venv/bin/py-spy``). ms per order = samples ÷ rate ÷ orders, printed with
each line; under load every round trip waits for a core, so read the shares.
"""

import argparse
import json
import subprocess
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from mercato.ops.embedded import free_port
from mercato_payments_stripe.embedded import EmbeddedStripe

from . import dataset
from .cart import redis_database
from .config import ROOT, BenchConfig, write_app_ini
from .scenarios import measure_journey
from .servers import AppServer, children

PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
# The parts of the place-order request: place_order itself, then what follows the
# commit in the same request (the capture and its records, the after-commit work).
PARTS = ("place_order (", "PaymentDataManager.tpc_finish", "after_commit.<locals>.run")
# py-spy names a frame "function (package/module.py:line)"; ours are those whose first
# folder is one of this repository's packages (kernel/, ops/, each plugin's folder …).
OURS = {
    path.name
    for folder in (ROOT, ROOT / "plugins")
    for path in folder.iterdir()
    if (path / "__init__.py").exists()
}


def own_frames(frames: list[str]) -> list[str]:
    def folder(frame: str) -> str:
        return frame.rpartition(" (")[2].split("/", 1)[0]

    return [f for f in frames if folder(f) in OURS]


def fold(paths: list[Path]) -> dict[str, Counter]:
    """Samples of each part, keyed by its deepest three frames of our own code."""
    parts = {part: Counter() for part in PARTS}
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            frames = stack.split(";")
            for part in PARTS:
                start = next((i for i, f in enumerate(frames) if part in f), None)
                if start is None:
                    continue
                ours = own_frames(frames[start:])[-3:]
                parts[part][" > ".join(f.split(" (")[0] for f in ours)] += int(count)
                break
    return parts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_checkout")
    parser.add_argument("--seconds", type=float, default=16)
    parser.add_argument("--rate", type=int, default=47, help="py-spy samples per second")
    parser.add_argument("--folder", type=Path, default=ROOT / "var" / "bench-profile")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    config = BenchConfig(reuse_db=True, folder=args.folder.resolve())
    (config.folder / "logs").mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        stripe = EmbeddedStripe()
        stack.callback(stripe.stop)
        port = free_port()
        ini = write_app_ini(
            config.folder / "app.ini",
            database_url=dataset.database_url(config),
            redis_url=stack.enter_context(redis_database()),
            port=port,
            workers=2,
            threads=16,
            stripe=stripe.settings(timeout="10"),
        )
        shop = dataset.prepare(config, ini)
        app = AppServer(ini, port, 2, config.folder / "logs" / "app.log")
        stack.callback(app.stop)
        measure_journey("checkout", app, stripe.url, shop, 16, 3, 2, seed=9)  # warm-up
        stripe.reset()
        outputs = []
        spies = []
        for number, pid in enumerate(children(app.process.pid)):
            outputs.append(config.folder / f"checkout-{number}.txt")
            spies.append(
                subprocess.Popen(  # noqa: S603 (our py-spy, our worker)
                    [str(PY_SPY), "record", "-p", str(pid), "-d", str(int(args.seconds)),
                     "-r", str(args.rate), "--idle", "--format", "raw",
                     "-o", str(outputs[-1]), "--nonblocking"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        result = measure_journey(
            "checkout", app, stripe.url, shop, 16, args.seconds - 1, 0.5, seed=10
        )
        for spy in spies:
            spy.wait()
    orders = result.notes.get("placed_total", 0) or 1
    print(json.dumps({k: v for k, v in result.to_json().items() if k != "error_examples"}))
    per_order = 1000 / args.rate / orders
    for part, counts in fold(outputs).items():
        total = sum(counts.values())
        print(f"\n{part.rstrip(' (')}: {total * per_order:.0f} ms per order ({orders} orders)")
        for where, count in counts.most_common(args.top):
            print(f"  {count * per_order:6.1f} ms  {count / (total or 1):6.1%}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
