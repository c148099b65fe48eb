"""Reading and writing the rates: the pricing's one query, and the staff's changes."""

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from mercato import country_name, region_name

from .models import TaxRate
from .rules import RateBook

# Where a request keeps the rate books it loaded: a page that prices twice (the cart
# and its estimate, a review and the order) asks the database once.
CACHE_ATTRIBUTE = "_mercato_tax_rate_books"


# Built once (an expanding parameter for the countries): the pricing of a checkout
# page reads rates, and a statement made for every read cost its construction and
# SQLAlchemy's cache key each time.
_RATES = select(
    TaxRate.country, TaxRate.region, TaxRate.tax_class, TaxRate.rate, TaxRate.name
).where(TaxRate.country.in_(bindparam("countries", expanding=True)))


class DuplicateRate(Exception):
    """Another row has the same country, region and tax class."""


def rate_book(context, countries: set[str]) -> RateBook:
    """The rates of ``countries`` (the destination's and the home country's), in one
    query, remembered for the rest of ``context.request``."""
    key = tuple(sorted(countries))
    request = context.request
    cache = getattr(request, CACHE_ATTRIBUTE, None) if request is not None else None
    if cache is None:
        cache = {}
        if request is not None:
            setattr(request, CACHE_ATTRIBUTE, cache)
    if key not in cache:
        session = context.dbsession if context.dbsession is not None else request.dbsession
        rows = session.execute(_RATES, {"countries": list(key)}).all()
        cache[key] = RateBook(rows)
    return cache[key]


def describe(country: str, region: str, tax_class: str) -> str:
    """A row in words: "Germany, standard", "United States (New York), standard"."""
    place = country_name(country)
    if region:
        place += f" ({region_name(country, region)})"
    return f"{place}, {tax_class}"


def save(session, rate: TaxRate, values: dict) -> None:
    """Give ``rate`` (new or not) ``values`` and write it now; ``DuplicateRate`` if
    another row has its country, region and class. The change happens inside a
    savepoint, so a refused one leaves the request's transaction usable."""
    try:
        with session.begin_nested():
            for key, value in values.items():
                setattr(rate, key, value)
            session.add(rate)
            session.flush()
    except IntegrityError:
        place = describe(values["country"], values["region"], values["tax_class"])
        raise DuplicateRate(place) from None


def find(session, raw_id: str) -> TaxRate | None:
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 10):
        return None
    return session.get(TaxRate, int(raw_id))


def all_rates(session, country: str = "") -> list[TaxRate]:
    query = select(TaxRate).order_by(TaxRate.country, TaxRate.region, TaxRate.tax_class)
    if country:
        query = query.where(TaxRate.country == country)
    return list(session.scalars(query))
