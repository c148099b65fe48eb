"""The bench's options and the ini file its servers run with.

The app's ini is config/production.ini with only what a loopback benchmark must change
(listed in ``APP_OVERRIDES`` and ``SERVER_OVERRIDES``, each with its reason), so the
figures are those of the settings a store owner deploys.
"""

import configparser
import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_INI = ROOT / "config" / "production.ini"

# Every client of the bench is 127.0.0.1, and Mercato's limits key by client address:
# with the shipped limits (60 searches a minute per address …) the whole load would be
# one abusive client. The limits stay on, so their Redis cost is measured, but no
# loopback load reaches them.
RATE_LIMITS = (
    "login.ip",
    "login.account",
    "password_reset.ip",
    "password_reset.account",
    "register",
    "search",
    "checkout",
)
UNREACHABLE_LIMIT = "1000000/minute"

APP_OVERRIDES = {
    # Plain HTTP on loopback (the nginx run adds no TLS either): no redirect to HTTPS,
    # cookies sent without the Secure flag.
    "mercato.require_https": "false",
    "mercato.session.cookie_secure": "false",
    "mercato.secret": "bench-secret-not-for-production",
    # Emails are rendered and written to the log instead of an SMTP server.
    "mercato.notifications.transport": "log",
    **{f"mercato.ratelimit.{name}": UNREACHABLE_LIMIT for name in RATE_LIMITS},
}


@dataclass
class BenchConfig:
    products: int = 100_000
    customers: int = 10_000
    bcrypt_rounds: int = 12
    reuse_db: bool = False
    workers: int = 2
    threads: int = 16
    seconds: float = 8.0
    warmup: float = 2.0
    rounds: int = 2
    connections: int = 32
    shoppers: int = 1000
    shoppers_seconds: float = 60.0
    think: tuple[float, float] = (3.0, 10.0)
    scenarios: list[str] = field(default_factory=list)
    # Where the run writes its ini files, logs and results: one folder per run when
    # several people bench on the same machine (``--folder``), or they overwrite each
    # other's app.ini and logs.
    folder: Path = ROOT / "var" / "bench"
    shoppers_large: int = 5000
    postgres_admin_url: str = os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def read_production() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # keep the keys' case
    parser.read(PRODUCTION_INI)
    return parser


def write_app_ini(
    path: Path,
    *,
    database_url: str,
    redis_url: str,
    port: int,
    workers: int,
    threads: int,
    stripe: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """config/production.ini with the bench's servers and the overrides above."""
    parser = read_production()
    app = parser["app:main"]
    app.update(APP_OVERRIDES)
    app["sqlalchemy.url"] = database_url
    app["redis.url"] = redis_url
    app["mercato.serve.workers"] = str(workers)
    app.update(stripe or {})
    app.update(extra or {})
    server = parser["server:main"]
    server["listen"] = f"127.0.0.1:{port}"
    server["threads"] = str(threads)
    # The request log (JSON lines) stays on, as in production; the runner sends the
    # servers' stderr to a file under the bench folder.
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        parser.write(out)
    return path


def server_adjustments(threads: int) -> dict:
    """production.ini's waitress settings, for the floors: the same server, tuned alike."""
    keep = ("connection_limit", "backlog", "asyncore_use_poll", "channel_timeout", "ident")
    server = read_production()["server:main"]
    adjustments = {key: server[key] for key in keep if key in server}
    adjustments["threads"] = str(threads)
    return adjustments
