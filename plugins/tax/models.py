"""The tax plugin's one table: rates by country, region and tax class.

``rate`` is a fraction (``0.19`` for 19 %), the form ``Money.tax_added`` and
``TaxLine.rate`` use; people type and read it in percent (``schemas.Percent``).
"""

from decimal import Decimal

from sqlalchemy import CheckConstraint, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mercato import Base

# ISO 3166-2 subdivision codes are at most three characters after the country prefix.
REGION_LENGTH = 3
CLASS_LENGTH = 32
NAME_LENGTH = 100
# Six decimals of a fraction: four of a percent (a US rate such as 6.875 % needs three).
RATE_PLACES = 6


class TaxRate(Base):
    __tablename__ = "tax_rates"
    __table_args__ = (
        UniqueConstraint("country", "region", "tax_class"),
        CheckConstraint("rate >= 0 AND rate <= 1", name="rate_fraction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    # "" is the whole country; a region's own rows replace the country's there.
    region: Mapped[str] = mapped_column(String(REGION_LENGTH), default="")
    tax_class: Mapped[str] = mapped_column(String(CLASS_LENGTH))
    rate: Mapped[Decimal] = mapped_column(Numeric(RATE_PLACES + 1, RATE_PLACES))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))

    @property
    def percent(self) -> str:
        return percent_text(self.rate)


def percent_text(rate: Decimal) -> str:
    """``Decimal("0.055")`` → ``"5.5"``: a rate as people write it, without trailing zeros."""
    return f"{(rate * 100).normalize():f}"
