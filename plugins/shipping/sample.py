"""The demo shop's zones (``mercato demo``: a shop in Germany selling in euros).

Germany ships cheaply and fast, the rest of the European Union by weight, the United
States by order value; every other country (Japan, say) has no zone, so the demo shows
what a shopper reads when the shop does not ship to them.
"""

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from mercato import minor_digits

from .models import FLAT, VALUE, WEIGHT, ShippingMethod, ShippingZone

# The member states but Germany, which has its own zone.
# fmt: off
EU_WITHOUT_GERMANY = (
    "AT", "BE", "BG", "CY", "CZ", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)
# fmt: on

# (zone name, countries, [(code, name, rate type, price or tiers, free over, estimate)])
# Amounts in major units, tiers as (up to: grams or major units, price).
DEMO_ZONES = [
    (
        "Germany",
        ["DE"],
        [
            ("de-standard", "Standard", FLAT, "4.90", "50.00", "1–3 working days"),
            ("de-express", "Express", FLAT, "9.90", None, "next working day"),
        ],
    ),
    (
        "European Union",
        EU_WITHOUT_GERMANY,
        [
            (
                "eu-standard",
                "Standard",
                WEIGHT,
                [(2000, "9.90"), (5000, "14.90"), (30000, "24.90")],
                "100.00",
                "3–6 working days",
            ),
        ],
    ),
    (
        "United States",
        ["US"],
        [
            (
                "us-international",
                "International",
                VALUE,
                [("100.00", "19.90"), (None, "14.90")],
                None,
                "5–10 working days",
            ),
        ],
    ),
]


def _minor(text: str, currency: str) -> int:
    # Rounded, so that a demo in a currency without cents (JPY) still starts.
    scaled = Decimal(text).scaleb(minor_digits(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _limit(up_to, rate_type: str, currency: str) -> int | None:
    """A tier's "up to": grams as written, an order value in the shop's currency."""
    if up_to is None or rate_type == WEIGHT:
        return up_to
    return _minor(up_to, currency)


def add_sample_zones(dbsession, currency: str) -> bool:
    """Add the demo zones and methods unless the shop has zones already; True if added.

    Flushed, not committed: the caller's transaction decides.
    """
    if dbsession.execute(select(func.count()).select_from(ShippingZone)).scalar():
        return False
    for position, (name, countries, methods) in enumerate(DEMO_ZONES):
        zone = ShippingZone(name=name, countries=sorted(countries), regions=[], position=position)
        for index, (code, label, rate_type, rate, free_over, estimate) in enumerate(methods):
            tiers = (
                []
                if rate_type == FLAT
                else [
                    {"up_to": _limit(up_to, rate_type, currency), "price": _minor(price, currency)}
                    for up_to, price in rate
                ]
            )
            zone.methods.append(
                ShippingMethod(
                    code=code,
                    name=label,
                    rate_type=rate_type,
                    price=_minor(rate, currency) if rate_type == FLAT else None,
                    tiers=tiers,
                    free_over=_minor(free_over, currency) if free_over else None,
                    currency=currency,
                    estimate=estimate,
                    active=True,
                    position=index,
                )
            )
        dbsession.add(zone)
    dbsession.flush()
    return True
