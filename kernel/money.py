"""Money: an integer amount of minor units (cents) and an ISO 4217 currency.

Never a float. Arithmetic refuses to mix currencies; rounding happens in one place
(``Money.percent``) with banker's rounding, the convention for accounting.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, list_currencies

KNOWN_CURRENCIES = frozenset(list_currencies())


class CurrencyMismatch(ValueError):
    pass


def minor_digits(currency: str) -> int:
    """How many minor-unit digits ``currency`` has (2 for EUR, 0 for JPY, 3 for KWD)."""
    return get_currency_precision(currency)


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"Money amount must be an int of minor units, not {self.amount!r}")
        if self.currency not in KNOWN_CURRENCIES:
            raise ValueError(f"unknown currency {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> "Money":
        """Read a decimal amount a person typed (``"12.50"``) into minor units.

        Refuses more decimals than the currency has, rather than rounding silently.
        """
        try:
            value = Decimal(str(text).strip())
            # An exponent past the context's limit ("1e999999999") overflows here.
            scaled = value.scaleb(minor_digits(currency)) if value.is_finite() else None
        except (InvalidOperation, ArithmeticError):
            raise ValueError(f"{text!r} is not an amount") from None
        if scaled is None:
            raise ValueError(f"{text!r} is not an amount")
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{text!r} has more decimals than {currency} allows")
        return cls(int(scaled), currency)

    def _check(self, other: "Money") -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: "Money") -> "Money":
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> "Money":
        if not isinstance(factor, int) or isinstance(factor, bool):
            raise TypeError("Money can only be multiplied by an int; use percent() for rates")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: "Money") -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: "Money") -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: "Money") -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: "Money") -> bool:
        self._check(other)
        return self.amount >= other.amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def percent(self, rate: Decimal | int | str) -> "Money":
        """``rate`` percent of this amount, rounded half-even to a minor unit."""
        share = Decimal(self.amount) * Decimal(str(rate)) / 100
        return Money(int(share.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)), self.currency)

    def tax_added(self, rate: Decimal) -> "Money":
        """The tax at ``rate`` (``Decimal("0.19")`` for 19 %) on this net amount, rounded
        half up to a minor unit: what a line's tax adds to it."""
        return self._rounded(Decimal(self.amount) * rate)

    def tax_included(self, rate: Decimal) -> "Money":
        """The tax at ``rate`` inside this gross amount (gross − gross / (1 + rate)),
        rounded half up to a minor unit."""
        return self._rounded(Decimal(self.amount) * rate / (1 + rate))

    def _rounded(self, amount: Decimal) -> "Money":
        return Money(int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)), self.currency)

    def decimal(self) -> Decimal:
        """The amount in major units, exactly (for display and export, never for sums)."""
        return Decimal(self.amount).scaleb(-minor_digits(self.currency))

    @lru_cache(maxsize=8192)  # noqa: B019 (babel: 10 µs a price, and pages repeat prices)
    def format(self, locale: str = "en_US") -> str:
        """The amount as a shopper in ``locale`` reads it: ``€12.50``, ``12,50 €``."""
        try:
            return format_currency(self.decimal(), self.currency, locale=Locale.parse(locale))
        except (UnknownLocaleError, ValueError):
            return format_currency(self.decimal(), self.currency, locale="en_US")

    def __str__(self) -> str:
        return f"{self.decimal()} {self.currency}"

    def to_json(self) -> dict:
        return {"amount": self.amount, "currency": self.currency}
