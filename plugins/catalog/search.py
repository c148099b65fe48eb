"""Product search and listings: full text first, trigram similarity as the fallback.

1. ``websearch_to_tsquery`` (quotes, ``or``, ``-word``; it never raises on odd input)
   against the generated ``search`` column, ranked with ``ts_rank_cd`` so a hit in
   the name (weight A) beats one in the description (B).
2. When that finds nothing — a typo, a word cut short — each typed word becomes
   itself as a prefix (``jack:*``) or the words of product names closest to it by
   trigrams (``jaket`` → jacket), looked up in the names' vocabulary
   (``catalog_search_words``, a few thousand rows), and the full-text search runs
   again with them: both steps through an index, however many products. The page
   says it shows close matches.

Category pages are the same query without text, narrowed by the variants' options
(``opt.size=M``: any of the values of one option, every option given) and by stock
(``in_stock=1``), with the options' values counted for the page's filters.
Everything here is read-only and runs on ``request.read_dbsession``.
"""

import math
import re
import time
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import (
    String,
    desc,
    distinct,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY

from mercato import Money

from .models import (
    MAX_AMOUNT,
    Category,
    Product,
    ProductCategory,
    ProductImage,
    SearchWord,
    Variant,
)

MAX_QUERY_CHARS = 200
MAX_PREFIX_WORDS = 8
MAX_PAGE = 1000
# pg_trgm's word similarity for the fallback: 0.4 lets "jaket" find "jacket" (0.44)
# and "sweter" find "sweater" (0.5) while "shirt" does not pull in "skirt" (0.33).
WORD_SIMILARITY = 0.4
# Below three characters trigrams match nearly everything: prefixes only.
MIN_TRIGRAM_CHARS = 3
# Words of the vocabulary tried for each typed word: the closest, ties included.
MAX_CLOSE_WORDS = 3
SORTS = {
    "relevance": "Best match",
    "newest": "Newest",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "name": "Name",
}
SEARCH_CONFIG = literal_column("'english'::regconfig")
# Option filters: ``opt.<option>=<value>``, repeated for several values.
OPTION_PREFIX = "opt."
MAX_OPTIONS = 5
MAX_OPTION_VALUES = 20
MAX_OPTION_CHARS = 100
# Facet values counted for a listing: enough for sizes and colours, bounded however
# many options staff give their variants.
MAX_FACET_VALUES = 200
YES, NO = ("1", "on", "true", "yes"), ("", "0", "off", "false", "no")
# Sizes a shopper expects in this order, not the alphabet's (L, M, S, XL).
SIZE_SCALE = ("XXXS", "XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "3XL", "4XL", "5XL")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"^\d{1,9}(?:[.,]\d{1,6})?$")


class InvalidParameter(ValueError):
    """A filter, sort or page value that makes no sense; the message says why."""


def clean_query(raw: str | None) -> str:
    """Free text as typed, made harmless: no control characters (NUL included, which
    PostgreSQL refuses in text), collapsed spaces, at most ``MAX_QUERY_CHARS``."""
    if not raw:
        return ""
    text = unicodedata.normalize("NFKC", raw[: MAX_QUERY_CHARS * 4])
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text[:MAX_QUERY_CHARS].strip()


@dataclass
class SearchParams:
    q: str = ""
    category: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 24
    # Option name → the values any of which a variant must have (sorted: one key).
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    in_stock: bool = False

    def query_args(self, currency: str, **changes) -> dict:
        """Query-string arguments for a link to these params with ``changes``
        (``options={...}`` replaces every option filter)."""
        values = {
            "q": self.q,
            "category": self.category,
            "min_price": major_units(self.min_price, currency),
            "max_price": major_units(self.max_price, currency),
            "in_stock": "1" if self.in_stock else None,
            "sort": self.sort,
            "page": self.page,
        }
        options = changes.pop("options", self.options)
        values.update(changes)
        if values["page"] == 1:
            values.pop("page")
        if values["sort"] == "relevance":
            values.pop("sort")
        for name, chosen in sorted(options.items()):
            values[OPTION_PREFIX + name] = list(chosen)
        return {k: v for k, v in values.items() if v not in (None, "", [])}

    def with_option(self, name: str, value: str, chosen: bool) -> dict:
        """The option filters with ``value`` of ``name`` added or taken out."""
        options = dict(self.options)
        values = set(options.get(name, ())) - {value}
        if chosen:
            values.add(value)
        options[name] = tuple(sorted(values))
        return {k: v for k, v in options.items() if v}

    def filters_key(self) -> tuple:
        """What narrows the listing besides its category: a key for cached counts."""
        return (self.min_price, self.max_price, self.in_stock, tuple(sorted(self.options.items())))


def major_units(amount: int | None, currency: str) -> str | None:
    return None if amount is None else str(Money(amount, currency).decimal())


def _price(raw: str | None, currency: str, label: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        amount = Money.parse(raw[:32], currency).amount
    except ValueError:
        raise InvalidParameter(
            f"The {label} price must be an amount such as 25 or 25.50."
        ) from None
    if amount < 0:
        raise InvalidParameter(f"The {label} price cannot be negative.")
    if amount > MAX_AMOUNT:
        raise InvalidParameter(f"The {label} price is larger than anything we sell.")
    return amount


def parse_page(raw: str | None) -> int:
    raw = (raw or "1").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise InvalidParameter("The page number must be a whole number such as 2.")
    page = int(raw)
    if page < 1:
        raise InvalidParameter("The page number must be 1 or more.")
    if page > MAX_PAGE:
        raise InvalidParameter(
            f"We show at most {MAX_PAGE} pages of results: please narrow your search."
        )
    return page


def _flag(raw: str | None, label: str) -> bool:
    raw = (raw or "").strip().lower()
    if raw in YES:
        return True
    if raw in NO:
        return False
    raise InvalidParameter(f"{label} is either 1 (yes) or 0 (no).")


def _clean_option(raw: str, what: str) -> str:
    if len(raw) > MAX_OPTION_CHARS:
        raise InvalidParameter(f"A filter's {what} is too long.")
    if _CONTROL.search(raw):
        raise InvalidParameter(f"A filter's {what} contains characters that are not text.")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise InvalidParameter(f"A filter's {what} is empty.")
    return text


def parse_options(params) -> dict[str, tuple[str, ...]]:
    """``opt.<option>=<value>`` pairs as ``{option: (value, ...)}``; bounded in number
    and length, refused (``InvalidParameter``) when odd."""
    items = params.items() if hasattr(params, "getall") else (
        (k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])
    )  # fmt: skip
    options: dict[str, set[str]] = {}
    for key, raw in items:
        if not key.startswith(OPTION_PREFIX) or raw in (None, ""):
            continue
        name = _clean_option(key[len(OPTION_PREFIX) :], "name")
        values = options.setdefault(name, set())
        values.add(_clean_option(raw, "value"))
        if len(options) > MAX_OPTIONS or len(values) > MAX_OPTION_VALUES:
            raise InvalidParameter("Too many filters at once: please choose fewer.")
    return {name: tuple(sorted(values)) for name, values in sorted(options.items())}


def _single(params, name: str) -> str | None:
    values = params.getall(name) if hasattr(params, "getall") else [params.get(name)]
    values = [v for v in values if v not in (None, "")]
    return values[-1] if values else None


def parse_params(params, currency: str, per_page: int, default_sort: str = "relevance"):
    """``SearchParams`` from a query string (a WebOb MultiDict or a dict).

    Free text never fails: any string is a query. Structured values that make no
    sense (``page=abc``, ``min_price=lots``, ``sort=evil``) raise ``InvalidParameter``.
    """
    sort = _single(params, "sort") or default_sort
    if sort not in SORTS:
        raise InvalidParameter(f"Sort by one of: {', '.join(SORTS)}.")
    min_price = _price(_single(params, "min_price"), currency, "lowest")
    max_price = _price(_single(params, "max_price"), currency, "highest")
    if min_price is not None and max_price is not None and min_price > max_price:
        raise InvalidParameter("The lowest price is above the highest price.")
    category = _single(params, "category")
    if category is not None:
        category = category.strip()[:120] or None
    return SearchParams(
        q=clean_query(_single(params, "q")),
        category=category,
        min_price=min_price,
        max_price=max_price,
        sort=sort,
        page=parse_page(_single(params, "page")),
        per_page=per_page,
        options=parse_options(params),
        in_stock=_flag(_single(params, "in_stock"), "“In stock only”"),
    )


@dataclass
class ProductCard:
    """What a listing shows of one product."""

    id: int
    slug: str
    name: str
    price_from: Money | None
    in_stock: bool
    image: dict | None = None

    def to_json(self) -> dict:
        return {
            "slug": self.slug,
            "name": self.name,
            "price_from": self.price_from.to_json() if self.price_from else None,
            "in_stock": self.in_stock,
            "image": self.image,
        }


@dataclass
class Facet:
    slug: str
    name: str
    count: int
    selected: bool = False


@dataclass
class OptionValue:
    value: str
    count: int
    selected: bool = False


@dataclass
class OptionFacet:
    """One option of the listing's variants ("size") and its values, counted."""

    name: str
    values: list[OptionValue]

    @property
    def label(self) -> str:
        return self.name[:1].upper() + self.name[1:]


@dataclass
class SearchResult:
    params: SearchParams
    items: list[ProductCard]
    total: int
    facets: list[Facet] = field(default_factory=list)
    fuzzy: bool = False
    options: list[OptionFacet] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.params.per_page))

    @property
    def has_next(self) -> bool:
        return self.params.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.params.page > 1


def category_subtree(category_path: str):
    """Products filed under the category at ``category_path`` or any descendant."""
    escaped = category_path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return (
        select(ProductCategory.product_id)
        .join(Category, Category.id == ProductCategory.category_id)
        .where(or_(Category.path == category_path, Category.path.like(escaped + "/%")))
    )


def find_category(session, slug: str) -> Category | None:
    return session.execute(select(Category).where(Category.slug == slug)).scalar_one_or_none()


def _filters(params: SearchParams, category: Category | None, with_options=True) -> list:
    conditions = [Product.active]
    if params.min_price is not None:
        conditions.append(Product.price_from >= params.min_price)
    if params.max_price is not None:
        conditions.append(Product.price_from <= params.max_price)
    if category is not None:
        conditions.append(Product.id.in_(category_subtree(category.path)))
    if params.in_stock or (with_options and params.options):
        # One variant must be all of it: "M, in olive, in stock", not an M sold out
        # beside an olive S.
        variants = select(Variant.product_id).where(*_variant_filters(params, with_options))
        conditions.append(Product.id.in_(variants))
    return conditions


def _variant_filters(params: SearchParams, with_options=True) -> list:
    conditions = [Variant.active]
    if params.in_stock:
        conditions.append(Variant.stock > 0)
    if with_options:
        for name, values in params.options.items():
            conditions.append(Variant.options[name].astext.in_(values))
    return conditions


def _option_facets(session, params: SearchParams, category: Category | None) -> list[OptionFacet]:
    """Every option value of the listing's variants with how many products have it.

    Counted as if no option were chosen (price and stock filters apply): a shopper who
    picked M still sees L and XL, to add them. One statement.
    """
    pair = func.jsonb_each_text(Variant.options).table_valued("key", "value").alias("pair")
    products = select(Product.id).where(*_filters(params, category, with_options=False))
    first = func.min(Variant.position)
    rows = session.execute(
        select(pair.c.key, pair.c.value, func.count(distinct(Variant.product_id)), first)
        .select_from(Variant)
        .join(pair, true())  # jsonb_each_text reads each variant's options (lateral)
        .where(Variant.product_id.in_(products), *_variant_filters(params, with_options=False))
        .group_by(pair.c.key, pair.c.value)
        .order_by(pair.c.key, pair.c.value)
        .limit(MAX_FACET_VALUES)
    ).all()
    facets: dict[str, list] = {}
    for name, value, count, position in rows:
        facets.setdefault(name, []).append(
            (_value_order(value, position), OptionValue(value, count))
        )
    return [
        OptionFacet(name, [value for _order, value in sorted(values, key=lambda v: v[0])])
        for name, values in facets.items()
    ]


def _value_order(value: str, position: int) -> tuple:
    """Sizes by the size scale, numbers (shoe sizes, 38, 39) by value, anything else
    in the order staff gave the variants (Single, Double, King), then by name."""
    size = value.strip().upper()
    if size in SIZE_SCALE:
        return (0, SIZE_SCALE.index(size), 0, "")
    if _NUMBER.match(size):
        return (1, float(size.replace(",", ".")), 0, "")
    return (2, 0, position, value.casefold())


def _listing_options(session, params, category, counts) -> list[OptionFacet]:
    def compute():
        return _option_facets(session, params, category)

    if counts is None:
        return _mark_chosen(compute(), params)
    # Counted without the option filters: the key leaves them out.
    key = ("options", category.path if category else None)
    key += (params.min_price, params.max_price, params.in_stock)
    return _mark_chosen(counts.remember(key, compute), params)


def _mark_chosen(facets: list[OptionFacet], params: SearchParams) -> list[OptionFacet]:
    """The counted facets with the shopper's choices ticked; a chosen value nothing
    has now (sold out meanwhile) is listed with 0, so it can be unticked."""
    marked = []
    for facet in facets:
        chosen = set(params.options.get(facet.name, ()))
        values = [OptionValue(v.value, v.count, v.value in chosen) for v in facet.values]
        values += [OptionValue(v, 0, True) for v in sorted(chosen - {v.value for v in values})]
        marked.append(OptionFacet(facet.name, values))
    known = {facet.name for facet in facets}
    for name, chosen in params.options.items():
        if name not in known:
            marked.append(OptionFacet(name, [OptionValue(v, 0, True) for v in chosen]))
    return marked


def _text_match(q: str):
    tsquery = func.websearch_to_tsquery(SEARCH_CONFIG, q)
    # The cover-density rank: plain ts_rank scores every document 1e-20 as soon as
    # the query has an exclusion ("jacket -rain"), which would lose the name weight.
    return Product.search.op("@@")(tsquery), func.ts_rank_cd(Product.search, tsquery)


def _close_words(session, typed: list[str]) -> dict[str, list[str]]:
    """For each typed word of three letters or more, the words of product names it is
    most likely a typo of, through the vocabulary's trigram index.

    A candidate is close by ``word_similarity`` (at least ``WORD_SIMILARITY``: "jaket"
    is 0.44 from "jacket", "shirt" 0.33 from "skirt"); the ones kept are the most
    similar as whole words (``similarity``), ties included: "coax" is as close to
    "coastal" as to "coat" by the first measure, but only "coat" is kept.
    """
    long_enough = sorted({w for w in typed if len(w) >= MIN_TRIGRAM_CHARS})
    if not long_enough:
        return {}
    typed_word = (
        func.unnest(literal(long_enough, ARRAY(String))).table_valued("typed").render_derived()
    )
    similarity = func.similarity(typed_word.c.typed, SearchWord.word)
    close = (
        select(SearchWord.word, similarity.label("similarity"))
        .where(SearchWord.word.op("%>")(typed_word.c.typed))
        .order_by(similarity.desc(), SearchWord.word)
        .limit(MAX_CLOSE_WORDS)
        .lateral()
    )
    rows = session.execute(
        select(typed_word.c.typed, close.c.word, close.c.similarity)
        .select_from(typed_word)
        .join(close, true())
    )
    found: dict[str, list[tuple[float, str]]] = {}
    for word, candidate, closeness in rows:
        found.setdefault(word, []).append((closeness, candidate))
    return {
        word: [c for closeness, c in candidates if closeness == candidates[0][0]]
        for word, candidates in found.items()
    }


def _fuzzy_match(session, q: str):
    """Each typed word as a prefix or one of its close words, any of them: products
    that have more of them rank first (``ts_rank_cd``), as in a plain search."""
    typed = [w.lower() for w in _WORD.findall(q)[:MAX_PREFIX_WORDS]]
    if not typed:
        return false(), None
    close = _close_words(session, typed)
    alternatives = []
    for word in typed:
        options = [f"{word}:*"] + [f"'{c}'" for c in close.get(word, ()) if _WORD.fullmatch(c)]
        alternatives.append("(" + " | ".join(options) + ")")
    query = func.to_tsquery(SEARCH_CONFIG, " | ".join(alternatives))
    return Product.search.op("@@")(query), func.ts_rank_cd(Product.search, query)


def _order(params: SearchParams, rank):
    if params.sort == "price_asc":
        return [Product.price_from.asc().nulls_last(), Product.id]
    if params.sort == "price_desc":
        return [Product.price_from.desc().nulls_last(), Product.id]
    if params.sort == "name":
        return [Product.name, Product.id]
    if params.sort == "relevance" and rank is not None:
        return [desc(rank), Product.id.desc()]
    return [Product.created_at.desc(), Product.id.desc()]


def _count(session, conditions) -> int:
    return session.execute(select(func.count()).select_from(Product).where(*conditions)).scalar()


def _facet_counts(session, conditions) -> list[tuple[str, str, int]]:
    """(slug, name, count) of the categories of the matches, most matches first."""
    # Aggregate by id first and name the (at most 50) categories after: joining the
    # names row by row costs several times more on a broad query.
    matching = select(Product.id).where(*conditions)
    counts = (
        select(ProductCategory.category_id, func.count().label("n"))
        .where(ProductCategory.product_id.in_(matching))
        .group_by(ProductCategory.category_id)
        .order_by(func.count().desc())
        .limit(50)
        .subquery()
    )
    return [
        tuple(row)
        for row in session.execute(
            select(Category.slug, Category.name, counts.c.n)
            .join(counts, counts.c.category_id == Category.id)
            .order_by(counts.c.n.desc(), Category.name)
        )
    ]


def cards(session, rows, currency: str) -> list[ProductCard]:
    """Listing cards for ``rows`` (id, slug, name, price_from), in order: first image
    and whether anything is in stock come from two indexed queries for the page."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    images: dict[int, dict] = {}
    for row in session.execute(
        select(
            ProductImage.product_id,
            ProductImage.key,
            ProductImage.extension,
            ProductImage.alt,
            ProductImage.width,
            ProductImage.height,
        )
        .where(ProductImage.product_id.in_(ids))
        .order_by(ProductImage.product_id, ProductImage.position, ProductImage.id)
    ):
        images.setdefault(
            row.product_id,
            {
                "key": row.key,
                "extension": row.extension,
                "alt": row.alt,
                "width": row.width,
                "height": row.height,
            },
        )
    stocked = set(
        session.execute(
            select(Variant.product_id)
            .where(Variant.product_id.in_(ids), Variant.active, Variant.stock > 0)
            .distinct()
        ).scalars()
    )
    return [
        ProductCard(
            id=row.id,
            slug=row.slug,
            name=row.name,
            price_from=Money(row.price_from, currency) if row.price_from is not None else None,
            in_stock=row.id in stocked,
            image=images.get(row.id),
        )
        for row in rows
    ]


def _rows(session, conditions, params: SearchParams, rank, *columns):
    return session.execute(
        select(Product.id, Product.slug, Product.name, Product.price_from, *columns)
        .where(*conditions)
        .order_by(*_order(params, rank))
        .limit(params.per_page)
        .offset((params.page - 1) * params.per_page)
    ).all()


def _matches(session, conditions, params: SearchParams, rank) -> tuple[list, int]:
    """The page's rows of a text search and the number of matches, in one statement.

    ``count(*) OVER ()`` is computed from the matches the ranking sorts anyway, so a
    separate count no longer reads them all a second time (measured over the bench's
    440 searches at 100,000 products: 5.2 statements and 15.8 ms of SQL per search
    before, 4.2 and 11.3 ms after). Not for listings without text: their rows come from
    an index in order and stop after a page, which a window over every row would undo.
    """
    rows = _rows(session, conditions, params, rank, func.count().over().label("total"))
    if rows:
        return rows, rows[0].total
    return [], 0 if params.page == 1 else _count(session, conditions)


# How long a listing's product count is reused (per process): like the navigation
# (slots.NAV_TTL), a few seconds behind the catalog at worst, and only in "page N of M".
LISTING_COUNT_TTL = 30.0


class ListingCounts:
    """Product counts of listings without text (a category, its filters), the counts
    of their options' values, and the category counts of text searches, kept for
    ``LISTING_COUNT_TTL`` seconds.

    A large category's count is most of its page's cost: on the bench's 100,000
    products, counting "clothing" (37,000 products) took 45 ms of a 50 ms page, while
    its first 24 rows come from an index in 3 ms.
    """

    def __init__(self, ttl: float = LISTING_COUNT_TTL, size: int = 1024):
        self.ttl = ttl
        self.size = size
        self._values: dict = {}

    def count(self, session, conditions, key) -> int:
        return self.remember(("count", key), lambda: _count(session, conditions))

    def remember(self, key, compute):
        """``compute()``, or what it gave for ``key`` less than ``ttl`` seconds ago."""
        now = time.monotonic()
        found = self._values.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = compute()
        if len(self._values) >= self.size:
            self._values.clear()  # small and short-lived: no LRU bookkeeping needed
        self._values[key] = (now + self.ttl, value)
        return value


def _listing(session, conditions, params: SearchParams, counts, key) -> tuple[list, int]:
    total = (
        _count(session, conditions) if counts is None else counts.count(session, conditions, key)
    )
    if not total or (params.page - 1) * params.per_page >= total:
        return [], total
    return _rows(session, conditions, params, None), total


def search(
    session,
    params: SearchParams,
    currency: str,
    with_facets: bool = True,
    category=None,
    counts: ListingCounts | None = None,
    option_facets: bool = False,
):
    """Run ``params`` and return a ``SearchResult``.

    An unknown category slug raises ``InvalidParameter``; a caller that has already
    looked the category up passes it as ``category``. ``counts`` keeps the totals of
    listings without text, and their options' facets (``option_facets``, for listings
    without text only), for a few seconds. A page past the last one is an empty page,
    not an error (results change between two clicks).
    """
    if params.category and (category is None or category.slug != params.category):
        category = find_category(session, params.category)
        if category is None:
            raise InvalidParameter("That category does not exist (any more).")
    base = _filters(params, category if params.category else None)
    unfiltered = _filters(params, None)
    match, rank, fuzzy = None, None, False
    if params.q:
        match, rank = _text_match(params.q)
        rows, total = _matches(session, [*base, match], params, rank)
        if total == 0:
            # SET LOCAL: only this read transaction uses the looser threshold. And the
            # GIN indexes: the planner prices a prefix tsquery so high that it would
            # rather read every product (bench, 100,000 products: "cardigax" took 284
            # ms that way, a few through the index).
            threshold = literal(str(WORD_SIMILARITY))
            session.execute(
                select(
                    func.set_config("pg_trgm.word_similarity_threshold", threshold, True),
                    func.set_config("enable_seqscan", "off", True),
                )
            )
            match, rank = _fuzzy_match(session, params.q)
            fuzzy = True
            rows, total = _matches(session, [*base, match], params, rank)
    else:
        key = (category.path if params.category else None, params.filters_key())
        rows, total = _listing(session, base, params, counts, key)
    options = []
    if option_facets and not params.q:
        options = _listing_options(session, params, category if params.category else None, counts)
    facets = []
    if with_facets:
        # Facets count the query without its own category filter, so a shopper sees
        # where else the results are.
        facet_conditions = [*unfiltered, match] if match is not None else unfiltered

        def count_facets():
            return _facet_counts(session, facet_conditions)

        if counts is None or not params.q:
            by_category = count_facets()
        else:
            # Like a listing's counts, a query's categories are kept a few seconds:
            # counting them read every match a second time, as much as the page's own
            # statement (bench, 100,000 products: 5 of a one-word search's 11 ms of SQL).
            key = ("facets", params.q, params.filters_key())
            by_category = counts.remember(key, count_facets)
        facets = [Facet(slug, name, n, slug == params.category) for slug, name, n in by_category]
    return SearchResult(params, cards(session, rows, currency), total, facets, fuzzy, options)


def newest(session, currency: str, limit: int = 12) -> list[ProductCard]:
    rows = session.execute(
        select(Product.id, Product.slug, Product.name, Product.price_from)
        .where(Product.active)
        .order_by(Product.created_at.desc(), Product.id.desc())
        .limit(limit)
    ).all()
    return cards(session, rows, currency)
