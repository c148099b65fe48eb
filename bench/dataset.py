"""The bench's shop: a fresh ``mercato_bench`` database with 100,000 products (made by
``mercato catalog sample``) and 10,000 customers, and the lists the load generators
pick their pages, searches and SKUs from.

The database's comment records what it holds, so ``--reuse-db`` can skip the two
minutes of building when the same shop is already there.
"""

import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from mercato.db import sqlalchemy_url

from .config import ROOT, BenchConfig, read_production

NAME = "mercato_bench"
CUSTOMER_PASSWORD = "bench-password-1"  # noqa: S105 (the bench's own throwaway customers)
# Carts and checkouts use the variants of every HOT_EVERY-th product, given a stock no
# run can exhaust: a sold-out SKU would make a 409 that is the bench's fault.
HOT_EVERY = 50
HOT_STOCK = 10_000_000


def customer_email(number: int) -> str:
    return f"customer{number}@bench.mercato.test"


@dataclass
class Shop:
    """What the load generators pick from (sampled once from the database)."""

    products: list[str]  # slugs of active products
    categories: list[str]  # category slugs
    hot: list[tuple[str, str]]  # (product slug, SKU) whose stock never runs out
    searches: list[str]  # search queries that find something
    customers: int


def admin_url(config: BenchConfig) -> str:
    return sqlalchemy_url(config.postgres_admin_url)


def database_url(config: BenchConfig) -> str:
    return make_url(admin_url(config)).set(database=NAME).render_as_string(hide_password=False)


def _signature(config: BenchConfig) -> str:
    return (
        f"mercato bench: {config.products} products, {config.customers} customers, "
        f"bcrypt cost {config.bcrypt_rounds}, sample shipping zones and tax rates"
    )


def _say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def prepare(config: BenchConfig, ini_path) -> Shop:
    """Build the shop (or find it built, with ``--reuse-db``) and sample it."""
    admin = create_engine(admin_url(config), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname = :name"
                ),
                {"name": NAME},
            ).first()
            comment = found[0] if found else None
            if config.reuse_db and comment == _signature(config):
                _say(f"reusing database {NAME} ({comment})")
            elif config.reuse_db and found is not None:
                # Asked to reuse: another shop there (or one still being built, which
                # has no comment yet) is someone's, never dropped for this run.
                raise SystemExit(
                    f"bench: --reuse-db, but {NAME} holds another shop or one being built "
                    f"({comment!r}); run with that shop's options, or without --reuse-db"
                )
            else:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{NAME}"'))
                _build(config, ini_path)
                conn.execute(text(f"COMMENT ON DATABASE \"{NAME}\" IS '{_signature(config)}'"))
    finally:
        admin.dispose()
    return sample(config)


def _mercato(ini_path, *args: str) -> None:
    subprocess.run(  # noqa: S603 (our interpreter, our CLI)
        [sys.executable, "-m", "mercato.ops.cli", "-c", str(ini_path), *args], cwd=ROOT, check=True
    )


def _build(config: BenchConfig, ini_path) -> None:
    started = time.monotonic()
    _say(f"creating database {NAME}: migrate …")
    _mercato(ini_path, "migrate")
    _say(f"{config.products:,} products through `mercato catalog sample` …")
    # No pictures: 100,000 products would draw ~300,000 files (830 MB) the bench never asks for.
    _mercato(ini_path, "catalog", "sample", "--products", str(config.products), "--no-images")
    _say(f"{config.customers:,} customers …")
    _customers(config)
    _shipping_and_tax(config)
    _hot_stock(config)
    _say(f"shop ready in {time.monotonic() - started:.0f} s")


def _customers(config: BenchConfig) -> None:
    """Bulk insert with one bcrypt hash computed once: hashing 10,000 passwords at the
    production cost would take an hour of CPU."""
    from mercato.accounts.passwords import hash_password

    password_hash = hash_password(CUSTOMER_PASSWORD, config.bcrypt_rounds)
    now = datetime.now(UTC)
    engine = create_engine(database_url(config))
    try:
        with engine.connect() as connection:
            dbapi = connection.connection.driver_connection
            with dbapi.cursor() as cursor:
                columns = "email, name, role, is_active, password_hash, password_changed_at"
                with cursor.copy(f"COPY users ({columns}) FROM STDIN") as copy:
                    for number in range(1, config.customers + 1):
                        copy.write_row((
                            customer_email(number), f"Customer {number}", "customer", True,
                            password_hash, now,
                        ))  # fmt: skip
            connection.commit()
    finally:
        engine.dispose()


def _shipping_and_tax(config: BenchConfig) -> None:
    """The demo's shipping zones and tax rates: with production.ini's shipping plugin, a
    shop without a zone ships nowhere and no checkout gets past the shipping step."""
    from mercato_shipping.sample import add_sample_zones
    from mercato_tax import add_sample_rates

    engine = create_engine(database_url(config))
    try:
        with Session(engine) as session, session.begin():
            add_sample_zones(session, read_production()["app:main"]["mercato.currency"])
            add_sample_rates(session)
    finally:
        engine.dispose()


def _hot_stock(config: BenchConfig) -> None:
    engine = create_engine(database_url(config))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE catalog_variants SET stock = :stock WHERE product_id % :every = 0"),
                {"stock": HOT_STOCK, "every": HOT_EVERY},
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # Every table, catalog_categories included: `catalog sample` analyzes the
            # big tables only, and autovacuum never analyzes a table of a dozen rows
            # (it waits for 50 changes). Without its statistics the planner takes a
            # category for one row and sorts all 37,000 products of "clothing" for a
            # page 10: 950 ms instead of 2 ms.
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


def hot_variants(conn) -> list[tuple[str, str]]:
    """(product slug, SKU) of the variants whose stock no run can exhaust."""
    return conn.execute(
        text(
            "SELECT p.slug, v.sku FROM catalog_variants v "
            "JOIN catalog_products p ON p.id = v.product_id "
            "WHERE v.product_id % :every = 0 AND v.stock >= :stock / 2 AND v.active "
            "AND p.active ORDER BY v.sku"
        ),
        {"every": HOT_EVERY, "stock": HOT_STOCK},
    ).all()


def sample(config: BenchConfig, seed: int = 7) -> Shop:
    from mercato_catalog.sample import ADJECTIVES, NOUNS

    rng = random.Random(seed)
    engine = create_engine(database_url(config))
    try:
        with engine.connect() as conn:
            products = (
                conn.execute(
                    text(
                        "SELECT slug FROM catalog_products TABLESAMPLE SYSTEM (10) "
                        "WHERE active LIMIT 5000"
                    )
                )
                .scalars()
                .all()
            )
            categories = conn.execute(text("SELECT slug FROM catalog_categories")).scalars().all()
            hot = hot_variants(conn)
            customers = conn.execute(text("SELECT count(*) FROM users")).scalar()
    finally:
        engine.dispose()
    nouns = sorted({noun for words in NOUNS.values() for noun in words})
    searches = [rng.choice(nouns).lower() for _ in range(200)]
    adjectives = [word.lower() for word in ADJECTIVES]
    searches += [f"{rng.choice(adjectives)} {rng.choice(nouns).lower()}" for _ in range(200)]
    # A typo now and then: the trigram fallback is the expensive path.
    searches += [rng.choice(nouns).lower()[:-1] + "x" for _ in range(40)]
    rng.shuffle(products)
    rng.shuffle(searches)
    return Shop(list(products), list(categories), [tuple(row) for row in hot], searches, customers)
