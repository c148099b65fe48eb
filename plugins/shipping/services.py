"""Where a destination ships from and for how much: the rules of the plugin.

**Zones.** A zone lists countries (``DE``) and regions (``US-AK``). A destination
uses the most specific zone that names it: a zone listing its region beats a zone
listing its country, so "Alaska and Hawaii" can cost more than the rest of the
"United States". The staff pages keep a country, and a region, in one zone at most;
should two zones still name the same place, the one first by position wins. A
destination no zone names gets no option: the kernel tells the shopper the shop does
not ship there. So does a zone without an active method (shipping to it is paused).

**Methods.** Each active method of the zone is one ``mercato.ShippingOption``:

* ``flat``: its price, whatever the cart;
* ``weight``: the first tier whose "up to" (grams) the cart's weight does not exceed,
  the weight being ``sum(line.weight * line.quantity)``;
* ``value``: the same with the goods subtotal (``sum(line.total)``, before discounts,
  shipping and added tax);

a tier without "up to" takes everything above the previous one; a cart beyond the
last tier cannot use the method (too heavy for the carrier). A method with a
free-over threshold costs nothing once the goods subtotal reaches it (``>=``).
"""

import logging
from dataclasses import dataclass

from sqlalchemy import select

from mercato import Money, ShippingOption

from .models import FLAT, WEIGHT, ShippingMethod, ShippingZone

log = logging.getLogger(__name__)

SOURCE = "shipping"
# The zones read for a request, kept on it: the checkout prices the cart several
# times per request (review, then the chosen method), and each pricing costs nothing
# after the first.
REQUEST_CACHE = "_mercato_shipping_zones"


@dataclass(frozen=True)
class Tier:
    up_to: int | None  # grams or minor units, inclusive; None: no limit
    price: int


@dataclass(frozen=True)
class Rate:
    """An active method as pricing needs it, detached from the database session."""

    code: str
    name: str
    rate_type: str
    price: int | None
    tiers: tuple[Tier, ...]
    free_over: int | None
    currency: str
    estimate: str

    def price_for(self, weight: int, goods: int) -> int | None:
        """The price in minor units for a cart of ``weight`` grams and ``goods`` minor
        units, or None when the cart is beyond the method's last tier."""
        if self.rate_type == FLAT:
            price = self.price
        else:
            measure = weight if self.rate_type == WEIGHT else goods
            price = next(
                (t.price for t in self.tiers if t.up_to is None or measure <= t.up_to), None
            )
        if price is None:
            return None
        if self.free_over is not None and goods >= self.free_over:
            return 0
        return price


@dataclass(frozen=True)
class Zone:
    id: int
    name: str
    countries: frozenset[str]
    regions: frozenset[str]
    rates: tuple[Rate, ...]


# Every zone with its active methods, in position order. Built once: a statement made
# for every read cost SQLAlchemy its construction and cache key each time, about a
# third of the read (py-spy, the checkout journey prices the cart on four pages).
_ZONES = (
    select(
        ShippingZone.id,
        ShippingZone.name,
        ShippingZone.countries,
        ShippingZone.regions,
        ShippingMethod.code,
        ShippingMethod.name,
        ShippingMethod.rate_type,
        ShippingMethod.price,
        ShippingMethod.tiers,
        ShippingMethod.free_over,
        ShippingMethod.currency,
        ShippingMethod.estimate,
    )
    .outerjoin(ShippingMethod, (ShippingMethod.zone_id == ShippingZone.id) & ShippingMethod.active)
    .order_by(ShippingZone.position, ShippingZone.id, ShippingMethod.position, ShippingMethod.id)
)


def load_zones(dbsession) -> list[Zone]:
    """Every zone with its active methods, in position order: one query."""
    rows = dbsession.execute(_ZONES).all()
    zones: dict[int, tuple] = {}
    for zone_id, zone_name, countries, regions, code, *method in rows:
        _, _, _, rates = zones.setdefault(zone_id, (zone_name, countries, regions, []))
        if code is None:
            continue  # a zone without an active method: the outer join's empty row
        name, rate_type, price, tiers, free_over, currency, estimate = method
        rates.append(
            Rate(
                code=code,
                name=name,
                rate_type=rate_type,
                price=price,
                tiers=tuple(Tier(t["up_to"], t["price"]) for t in tiers),
                free_over=free_over,
                currency=currency,
                estimate=estimate,
            )
        )
    return [
        Zone(zone_id, name, frozenset(countries), frozenset(regions), tuple(rates))
        for zone_id, (name, countries, regions, rates) in zones.items()
    ]


def zones_for(context) -> list[Zone]:
    """The zones, read once per request (``context.request``) or per call without one."""
    request = context.request
    zones = getattr(request, REQUEST_CACHE, None) if request is not None else None
    if zones is None:
        dbsession = context.dbsession or getattr(request, "dbsession", None)
        if dbsession is None:
            raise ValueError("shipping reads its zones from the database: give a dbsession")
        zones = load_zones(dbsession)
        if request is not None:
            setattr(request, REQUEST_CACHE, zones)
    return zones


def zone_for(zones: list[Zone], destination) -> Zone | None:
    """The most specific zone naming ``destination`` (region before country)."""
    if destination.region:
        region = f"{destination.country}-{destination.region}"
        for zone in zones:
            if region in zone.regions:
                return zone
    return next((zone for zone in zones if destination.country in zone.countries), None)


def shipping_options(lines, context) -> list[ShippingOption]:
    """``mercato_shipping_options``: the matching zone's methods priced for ``lines``."""
    if context.destination is None or not lines:
        return []
    zone = zone_for(zones_for(context), context.destination)
    if zone is None:
        return []
    weight = sum(line.weight * line.quantity for line in lines)
    goods = sum(line.total.amount for line in lines)
    options = []
    for rate in zone.rates:
        if rate.currency != context.currency:
            # Saved before the shop changed currency: its amounts mean nothing now.
            log.warning(
                "shipping: %s is priced in %s, not %s", rate.code, rate.currency, context.currency
            )
            continue
        price = rate.price_for(weight, goods)
        if price is not None:
            options.append(
                ShippingOption(
                    code=rate.code,
                    name=rate.name,
                    price=Money(price, context.currency),
                    estimate=rate.estimate,
                    source=SOURCE,
                )
            )
    return options
