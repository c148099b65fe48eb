"""CSV import and export of the catalog: one row per variant.

Import checks every row before it writes anything and reports each bad row by its line
number; a file with any bad row imports nothing. A good file is applied in one
transaction: products are matched by slug and variants by SKU, so importing the same
file twice changes nothing the second time.

``tax_class`` (the product's) and ``weight_grams`` (the variant's) are optional: a
file without them, or an empty cell, leaves an existing product's class and a
variant's weight as they are (new ones get standard and 0 g), so a file written
before these columns existed does not wipe them.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mercato import Money

from . import events, goods
from .models import MAX_AMOUNT, Product, Variant
from .services import CATEGORY_PATH, SLUG, ensure_category_path

COLUMNS = (
    "product_slug",
    "product_name",
    "description",
    "categories",
    "product_active",
    "sku",
    "variant_name",
    "options",
    "price",
    "currency",
    "stock",
    "variant_active",
    "tax_class",
    "weight_grams",
)
REQUIRED = ("product_slug", "product_name", "sku", "price", "stock")
TRUE = {"1", "true", "yes", "y"}
FALSE = {"0", "false", "no", "n"}
MAX_STOCK = 2**31 - 1
MAX_ERRORS = 100
BATCH = 1000  # rows loaded per query and products written per flush by ``apply``


class ImportFailed(Exception):
    """The file was not imported; ``errors`` lists ``(line, message)``."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = errors
        super().__init__(f"{len(errors)} bad row(s); nothing was imported")


@dataclass
class VariantRow:
    line: int
    sku: str
    name: str
    options: dict
    price: int
    stock: int
    active: bool
    weight: int | None  # None: unchanged (0 g for a new variant)


@dataclass
class ProductRow:
    line: int
    slug: str
    name: str
    description: str
    categories: list[str]
    active: bool
    tax_class: str | None  # None: unchanged (standard for a new product)
    variants: list[VariantRow] = field(default_factory=list)


def _flag(value: str, column: str) -> bool:
    value = value.strip().lower()
    if value in ("", *TRUE):
        return True
    if value in FALSE:
        return False
    raise ValueError(f"{column} must be true or false, not {value!r}")


def _options(value: str) -> dict:
    options = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        name, sep, option = part.partition("=")
        if not sep or not name.strip() or not option.strip():
            raise ValueError(f"options must look like 'size=M; colour=Blue', not {value!r}")
        options[name.strip()] = option.strip()
    return options


def _optional(row: dict, column: str, parse):
    """An optional column's value read by ``parse``, or None when it is empty."""
    text = (row.get(column) or "").strip()
    if not text:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{column} {text[:40]!r}: {exc}") from None


def _format_options(options: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in options.items())


def _parse_row(row: dict, currency: str) -> tuple[dict, VariantRow]:
    # PostgreSQL refuses NUL in text: say so here, with the line, not fail at the INSERT.
    if any("\x00" in value for value in row.values() if isinstance(value, str)):
        raise ValueError("the row contains a NUL character, so the file is not plain text")
    missing = [c for c in REQUIRED if not (row.get(c) or "").strip()]
    if missing:
        raise ValueError(f"{', '.join(missing)} must not be empty")
    slug = row["product_slug"].strip()
    if len(slug) > 200 or not SLUG.match(slug):
        raise ValueError(f"product_slug {slug!r} must be lowercase letters, digits and dashes")
    name = row["product_name"].strip()
    if len(name) > 300:
        raise ValueError("product_name is longer than 300 characters")
    categories = [c.strip() for c in (row.get("categories") or "").split(";") if c.strip()]
    for path in categories:
        if len(path) > 1000 or not CATEGORY_PATH.match(path):
            raise ValueError(f"category {path!r} must be a path of slugs like 'home/kitchen'")
    sku = row["sku"].strip()
    if len(sku) > 64 or any(ch.isspace() for ch in sku):
        raise ValueError(f"sku {sku!r} must be at most 64 characters without spaces")
    row_currency = (row.get("currency") or "").strip().upper() or currency
    if row_currency != currency:
        raise ValueError(f"currency must be the shop's currency {currency}, not {row_currency}")
    try:
        price = Money.parse(row["price"], currency).amount
    except ValueError:
        raise ValueError(f"price {row['price'].strip()!r} is not an amount in {currency}") from None
    if not 0 <= price <= MAX_AMOUNT:
        raise ValueError(f"price {row['price'].strip()!r} must be between 0 and {MAX_AMOUNT}")
    stock_text = row["stock"].strip()
    if not stock_text.isdigit() or int(stock_text) > MAX_STOCK:
        raise ValueError(f"stock {stock_text!r} must be a whole number of 0 or more")
    product = {
        "slug": slug,
        "name": name,
        "description": (row.get("description") or "").strip(),
        "categories": categories,
        "active": _flag(row.get("product_active") or "", "product_active"),
        "tax_class": _optional(row, "tax_class", goods.parse_tax_class),
    }
    variant = VariantRow(
        line=0,
        sku=sku,
        name=(row.get("variant_name") or "").strip()[:200],
        options=_options(row.get("options") or ""),
        price=price,
        stock=int(stock_text),
        active=_flag(row.get("variant_active") or "", "variant_active"),
        weight=_optional(row, "weight_grams", goods.parse_weight),
    )
    return product, variant


def parse(stream, currency: str, progress=None) -> list[ProductRow]:
    """Read and check the whole file; raise ``ImportFailed`` listing every bad line."""
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    absent = [c for c in REQUIRED if c not in header]
    if absent:
        raise ImportFailed([(1, f"the header lacks the column(s) {', '.join(absent)}")])
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise ImportFailed([(1, f"unknown column(s) {', '.join(unknown)}")])
    errors: list[tuple[int, str]] = []
    products: dict[str, ProductRow] = {}
    skus: dict[str, int] = {}
    line = 1
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                errors.append((line, "more values than columns in the header"))
                continue
            try:
                fields, variant = _parse_row(row, currency)
            except ValueError as exc:
                errors.append((line, str(exc)))
                continue
            variant.line = line
            if variant.sku in skus:
                errors.append((line, f"sku {variant.sku} is already on line {skus[variant.sku]}"))
                continue
            skus[variant.sku] = line
            product = products.get(fields["slug"])
            if product is None:
                product = products[fields["slug"]] = ProductRow(line=line, **fields)
            elif (
                product.name,
                product.description,
                product.categories,
                product.active,
                product.tax_class,
            ) != (
                fields["name"],
                fields["description"],
                fields["categories"],
                fields["active"],
                fields["tax_class"],
            ):
                errors.append(
                    (
                        line,
                        f"product {product.slug} differs from its first row (line {product.line})",
                    )
                )
                continue
            product.variants.append(variant)
            if progress and len(skus) % 1000 == 0:
                progress(f"checked {len(skus)} rows")
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as exc:
        errors.append((reader.line_num or line, f"not valid CSV ({exc})"))
    except UnicodeDecodeError:
        errors.append((line + 1, "the file is not UTF-8 text"))
    if errors:
        raise ImportFailed(errors)
    if not products:
        raise ImportFailed([(1, "the file has no rows")])
    return list(products.values())


def apply(session, rows: list[ProductRow], currency: str, progress=None) -> dict:
    """Write checked rows: create or update products (by slug) and variants (by SKU).

    A SKU that belongs to another product than its row's is refused with its line
    number (``ImportFailed``); the caller rolls back.
    """
    counts = {"products_created": 0, "products_updated": 0, "variants_created": 0,
              "variants_updated": 0}  # fmt: skip
    # A few queries per thousand rows, not a few per product: the rows a file names are
    # loaded in batches, new rows reach PostgreSQL in batched INSERTs at the flushes.
    existing: dict[str, Variant] = {}
    for chunk in _batches([v.sku for r in rows for v in r.variants]):
        existing.update(
            (v.sku, v) for v in session.scalars(select(Variant).where(Variant.sku.in_(chunk)))
        )
    products: dict[str, Product] = {}
    for chunk in _batches([r.slug for r in rows]):
        products.update(
            (p.slug, p)
            for p in session.scalars(
                select(Product)
                .where(Product.slug.in_(chunk))
                .options(selectinload(Product.categories), selectinload(Product.variants))
            )
        )
    categories: dict[str, object] = {}
    changed: list[tuple[Product, str]] = []  # since the last flush
    for done, row in enumerate(rows, 1):
        product = products.get(row.slug)
        if product is None:
            product = Product(slug=row.slug)
            session.add(product)
            counts["products_created"] += 1
        else:
            counts["products_updated"] += 1
        product.name, product.description, product.active = row.name, row.description, row.active
        if row.tax_class is not None:
            product.tax_class = row.tax_class
        for path in row.categories:
            if path not in categories:
                categories[path] = ensure_category_path(session, path)
        product.categories = [categories[path] for path in row.categories]
        for position, item in enumerate(row.variants):
            variant = existing.get(item.sku)
            if variant is None:
                variant = Variant(sku=item.sku)
                product.variants.append(variant)
                counts["variants_created"] += 1
            elif variant.product is not product:
                raise ImportFailed(
                    [(item.line, f"sku {item.sku} belongs to another product already")]
                )
            else:
                counts["variants_updated"] += 1
            stock_was = variant.stock
            variant.name, variant.options, variant.active = item.name, item.options, item.active
            variant.price_amount, variant.price_currency = item.price, currency
            variant.stock = item.stock
            events.stock_level_changed(session, item.sku, stock_was, item.stock)
            if item.weight is not None:
                variant.weight = item.weight
            variant.position = position
        if (change := _change_of(session, product)) is not None:
            changed.append((product, change))
        if done % BATCH == 0:
            _flush(session, changed)
            if progress:
                progress(f"imported {done}/{len(rows)} products")
    _flush(session, changed)
    return counts


def _change_of(session, product: Product) -> str | None:
    """``created``, ``updated``, or None for a row that changed nothing (a file imported
    again tells other plugins nothing)."""
    if product in session.new:
        return "created"
    parts = (product, *product.variants)
    if any(part in session.new or session.is_modified(part) for part in parts):
        return "updated"
    return None


def _flush(session, changed: list[tuple[Product, str]]) -> None:
    """Write the batch, then tell other plugins what it changed, as it was saved."""
    session.flush()
    for product, change in changed:
        events.product_changed(session, product, change)
    changed.clear()


def _batches(values: list) -> Iterator[list]:
    for start in range(0, len(values), BATCH):
        yield values[start : start + BATCH]


def export_pages(session) -> Iterator[list[tuple]]:
    """Every product's variants as CSV rows (without the header ``COLUMNS``), one list
    per page of products; keyset pages keep memory flat for any catalog size."""
    last_id = 0
    while True:
        products = (
            session.execute(
                select(Product)
                .where(Product.id > last_id)
                .order_by(Product.id)
                .limit(1000)
                .options(selectinload(Product.variants), selectinload(Product.categories))
            )
            .scalars()
            .all()
        )
        if not products:
            return
        rows = []
        for product in products:
            categories = ";".join(c.path for c in product.categories)
            for variant in product.variants:
                rows.append(
                    (
                        product.slug,
                        product.name,
                        product.description,
                        categories,
                        "true" if product.active else "false",
                        variant.sku,
                        variant.name,
                        _format_options(variant.options),
                        str(variant.price.decimal()),
                        variant.price_currency,
                        variant.stock,
                        "true" if variant.active else "false",
                        product.tax_class,
                        variant.weight,
                    )
                )
        last_id = products[-1].id
        session.expunge_all()
        yield rows


def export(session, out, progress=None) -> int:
    """Write every product's variants as CSV rows to ``out``; return the row count."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    written = 0
    for rows in export_pages(session):
        writer.writerows(rows)
        written += len(rows)
        if progress:
            progress(f"exported {written} rows")
    return written
