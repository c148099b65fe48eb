"""``mercato catalog sample|import|export|media-to-s3``: catalog work for store owners."""

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session

from mercato import invalidate_pages_now, make_engine

from . import csvio, pagetags, sample
from .images import CONTENT_TYPES
from .storage import LocalStorage, make_s3_storage, make_storage


class ProgressBar:
    """One line redrawn in place on a terminal; a line per tenth elsewhere (CI, logs)."""

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last_tenth = -1

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{self.label}: {done:,}/{total:,} ({share:.0%}, {rate:,.0f}/s)"
        if self.tty:
            filled = int(share * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {text}")
            if done >= total:
                self.stream.write("\n")
        elif int(share * 10) > self._last_tenth:
            self._last_tenth = int(share * 10)
            self.stream.write(text + "\n")
        self.stream.flush()


def _count(value: str) -> int:
    try:
        number = int(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= number <= 10_000_000:
        raise argparse.ArgumentTypeError("choose between 1 and 10,000,000 products")
    return number


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_sample(args, env) -> int:
    settings = env.settings
    engine = make_engine(settings)
    storage = None if args.no_images else make_storage(settings["mercato.catalog"])
    try:
        made = sample.bulk_sample(
            engine,
            args.products,
            settings["mercato.currency"],
            ProgressBar("catalog sample"),
            seed=args.seed,
            storage=storage,
            picture_progress=ProgressBar("catalog pictures"),
        )
    finally:
        engine.dispose()
    invalidate_pages_now(env.settings, pagetags.CATALOG)
    _say(f"catalog sample: added {made:,} products")
    return 0


def cmd_import(args, env) -> int:
    currency = env.settings["mercato.currency"]
    try:
        with open(args.file, encoding="utf-8-sig", newline="") as stream:
            rows = csvio.parse(stream, currency, progress=_say)
    except OSError as exc:
        _say(f"catalog import: cannot read {args.file}: {exc.strerror}")
        return 1
    except csvio.ImportFailed as exc:
        for line, message in exc.errors:
            _say(f"{args.file}:{line}: {message}")
        _say(f"catalog import: {exc}")
        return 1
    _say(f"catalog import: {sum(len(r.variants) for r in rows):,} rows checked, importing …")
    # Through a session of the shop's app, as the admin's import writes: the running
    # processes and the other plugins hear of it as they do of the admin's (the cached
    # pages of what changed, mercato_product_changed: every process's cart forgets
    # what the catalog told it, webhooks' product.changed events).
    registry = env.app().registry
    try:
        with registry.dbsession_factory() as session:
            try:
                counts = csvio.apply(session, rows, currency, progress=_say)
            except csvio.ImportFailed as exc:
                session.rollback()
                for line, message in exc.errors:
                    _say(f"{args.file}:{line}: {message}")
                _say(f"catalog import: {exc}")
                return 1
            session.commit()
    finally:
        registry.db_engine.dispose()
    _say(
        "catalog import: done: "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
    )
    return 0


def cmd_export(args, env) -> int:
    engine = make_engine(env.settings)
    try:
        with Session(engine) as session:
            if args.file == "-":
                written = csvio.export(session, sys.stdout, progress=_say)
            else:
                with open(args.file, "w", encoding="utf-8", newline="") as out:
                    written = csvio.export(session, out, progress=_say)
    finally:
        engine.dispose()
    _say(f"catalog export: {written:,} rows written to {args.file}")
    return 0


def cmd_media_to_s3(args, env) -> int:
    """Copy the uploads of the local folder into the bucket, those not there already:
    a step of moving a shop onto object storage that can be run again after a stop."""
    from botocore.exceptions import BotoCoreError, ClientError

    catalog = env.settings["mercato.catalog"]
    if catalog["storage"] != "s3":
        _say("catalog media-to-s3: set mercato.catalog.storage = s3 and the s3_* settings first")
        return 1
    source, target = LocalStorage(catalog["upload_dir"]), make_s3_storage(catalog)

    def copy(key: str) -> None:
        content_type = CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")
        target.save(key, source.load(key), content_type)

    try:
        there = set(target.stored_keys())
        todo = [key for key in source.stored_keys() if key not in there]
        progress = ProgressBar("catalog media-to-s3")
        # boto3's client is thread-safe; uploads wait on the network, not on Python.
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for done, _ in enumerate(pool.map(copy, todo), 1):
                progress(done, len(todo))
    except (BotoCoreError, ClientError) as exc:
        _say(f"catalog media-to-s3: the bucket {catalog['s3_bucket']} failed: {exc}")
        return 1
    _say(
        f"catalog media-to-s3: copied {len(todo):,} files to {catalog['s3_bucket']}, "
        f"{len(there):,} were there already"
    )
    return 0


def add_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "catalog", help="catalog: sample data, CSV import and export, media to S3"
    )
    actions = parser.add_subparsers(dest="catalog_action", metavar="ACTION")

    p = actions.add_parser("sample", help="add generated products (for demos and benchmarks)")
    p.add_argument("--products", type=_count, default=1000, help="how many (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="random seed, for repeatable catalogs")
    p.add_argument(
        "--no-images",
        action="store_true",
        help="no pictures (by default each product gets a front and a close-up)",
    )
    p.set_defaults(func=cmd_sample)

    p = actions.add_parser("import", help="import products and variants from a CSV file")
    p.add_argument("file", help=f"CSV with the columns {', '.join(csvio.COLUMNS)}")
    p.set_defaults(func=cmd_import)

    p = actions.add_parser("export", help="export every product and variant as CSV")
    p.add_argument("file", nargs="?", default="-", help="where to write (default: stdout)")
    p.set_defaults(func=cmd_export)

    p = actions.add_parser(
        "media-to-s3", help="copy the local uploads (upload_dir) into the S3 bucket"
    )
    p.add_argument("--jobs", type=int, default=8, help="uploads at a time (default 8)")
    p.set_defaults(func=cmd_media_to_s3)

    def usage(args, env) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)
