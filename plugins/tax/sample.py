"""Sample rates (``mercato demo``, and tests that want a real table): EU VAT for the 27
member states and the US states' sales tax.

EU: the standard rate and one reduced rate of each state (the one for most food or
books; several states have a second or a "super-reduced" one: give it a class of its
own). Denmark has no reduced rate, so its reduced class falls back to the standard
rate. US: each state's base rate (with a statewide local part where every sale pays
it, as in California, Utah and Virginia), without county or city taxes; the states
without sales tax have a 0 row, which makes the US a known destination there too.
"""

from decimal import Decimal

from sqlalchemy import func, select

from .models import TaxRate

# (country, standard %, reduced % or None)
EU_VAT = (
    ("AT", "20", "10"),
    ("BE", "21", "6"),
    ("BG", "20", "9"),
    ("CY", "19", "5"),
    ("CZ", "21", "12"),
    ("DE", "19", "7"),
    ("DK", "25", None),
    ("EE", "24", "9"),
    ("ES", "21", "10"),
    ("FI", "25.5", "14"),
    ("FR", "20", "5.5"),
    ("GR", "24", "13"),
    ("HR", "25", "5"),
    ("HU", "27", "5"),
    ("IE", "23", "13.5"),
    ("IT", "22", "10"),
    ("LT", "21", "9"),
    ("LU", "17", "8"),
    ("LV", "21", "12"),
    ("MT", "18", "5"),
    ("NL", "21", "9"),
    ("PL", "23", "8"),
    ("PT", "23", "6"),
    ("RO", "21", "11"),
    ("SE", "25", "12"),
    ("SI", "22", "9.5"),
    ("SK", "23", "5"),
)

# (state, %): the 50 states and the District of Columbia.
US_SALES_TAX = (
    ("AL", "4"),
    ("AK", "0"),
    ("AZ", "5.6"),
    ("AR", "6.5"),
    ("CA", "7.25"),
    ("CO", "2.9"),
    ("CT", "6.35"),
    ("DC", "6"),
    ("DE", "0"),
    ("FL", "6"),
    ("GA", "4"),
    ("HI", "4"),
    ("ID", "6"),
    ("IL", "6.25"),
    ("IN", "7"),
    ("IA", "6"),
    ("KS", "6.5"),
    ("KY", "6"),
    ("LA", "5"),
    ("ME", "5.5"),
    ("MD", "6"),
    ("MA", "6.25"),
    ("MI", "6"),
    ("MN", "6.875"),
    ("MS", "7"),
    ("MO", "4.225"),
    ("MT", "0"),
    ("NE", "5.5"),
    ("NV", "6.85"),
    ("NH", "0"),
    ("NJ", "6.625"),
    ("NM", "4.875"),
    ("NY", "4"),
    ("NC", "4.75"),
    ("ND", "5"),
    ("OH", "5.75"),
    ("OK", "4.5"),
    ("OR", "0"),
    ("PA", "6"),
    ("RI", "7"),
    ("SC", "6"),
    ("SD", "4.2"),
    ("TN", "7"),
    ("TX", "6.25"),
    ("UT", "6.1"),
    ("VT", "6"),
    ("VA", "5.3"),
    ("WA", "6.5"),
    ("WV", "6"),
    ("WI", "5"),
    ("WY", "4"),
)


def sample_rates() -> list[TaxRate]:
    rates = []
    for country, standard, reduced in EU_VAT:
        rates.append(
            TaxRate(
                country=country,
                region="",
                tax_class="standard",
                rate=_fraction(standard),
                name="VAT",
            )
        )
        if reduced is not None:
            rates.append(
                TaxRate(
                    country=country,
                    region="",
                    tax_class="reduced",
                    rate=_fraction(reduced),
                    name="VAT",
                )
            )
    for state, percent in US_SALES_TAX:
        rates.append(
            TaxRate(
                country="US",
                region=state,
                tax_class="standard",
                rate=_fraction(percent),
                name=f"Sales tax {state}",
            )
        )
    return rates


def add_sample_rates(dbsession) -> int:
    """Add the sample rates if the table is empty; how many were added (0 if it was
    not). Flushes, never commits: that is the caller's transaction."""
    if dbsession.scalar(select(func.count()).select_from(TaxRate)):
        return 0
    rates = sample_rates()
    dbsession.add_all(rates)
    dbsession.flush()
    return len(rates)


def _fraction(percent: str) -> Decimal:
    return Decimal(percent) / 100
