"""What one measurement is (``Result``), and wrk, the load generator for single requests.

wrk (Debian's package, C, one thread) replays a list of prepared requests over
keep-alive connections for a fixed time; its Lua script (``requests.lua``) prints the
figures as JSON. Journeys that need state from one answer to the next (a checkout, a
shopper's visit) are driven by ``bench.shoppers`` instead.
"""

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LUA = Path(__file__).with_name("requests.lua")
WRK_HINT = "wrk is not installed: apt-get install -y wrk (Debian's package)"


@dataclass
class Result:
    name: str
    requests: int = 0
    seconds: float = 0.0
    p50: float = float("nan")  # milliseconds
    p95: float = float("nan")
    p99: float = float("nan")
    errors: int = 0
    peak_rss: int = 0  # bytes, the sum over the server's processes
    notes: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50, 2),
            "p95_ms": round(self.p95, 2),
            "p99_ms": round(self.p99, 2),
            "errors": self.errors,
            "peak_rss_mb": round(self.peak_rss / 2**20, 1),
            **self.notes,
        }


def percentile(ordered: list[float], share: float) -> float:
    """``share`` (0–100) percentile of sorted seconds, in milliseconds."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share / 100 * len(ordered)))] * 1000


def request_line(method: str, path: str, cookie: str = "", token: str = "", body="") -> str:
    body = json.dumps(body, separators=(",", ":")) if isinstance(body, dict) else body
    return "\t".join((method, path, cookie, token, body))


def require_wrk() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit(f"bench: {WRK_HINT}")
    return binary


def wrk(
    name: str,
    url: str,
    lines: list[str],
    connections: int,
    seconds: float,
    folder: Path,
) -> Result:
    """Replay ``lines`` (``request_line``) against ``url`` for ``seconds``."""
    folder.mkdir(parents=True, exist_ok=True)
    listing = folder / f"{name}.requests"
    listing.write_text("\n".join(lines) + "\n")
    command = [
        require_wrk(),
        "-t1",  # one thread: the generator shares the two cores with the servers
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        url,
        "--",
        str(listing),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)  # noqa: S603
    figures = next(
        (json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")), None
    )
    if done.returncode != 0 or figures is None:
        raise RuntimeError(f"bench: wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    errors = sum(figures[key] for key in ("connect", "read", "write", "status", "timeout"))
    return Result(
        name,
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50=figures["p50_us"] / 1000,
        p95=figures["p95_us"] / 1000,
        p99=figures["p99_us"] / 1000,
        errors=errors,
    )
