"""Reading the tax class and the weight a person or a client sends, with one message
each for the admin form, the CSV import and the staff API."""

from .models import MAX_WEIGHT, TAX_CLASSES

# What staff pick from; the tax plugin's tables give each class its rate per country.
TAX_CLASS_CHOICES = (
    ("standard", "Standard rate"),
    ("reduced", "Reduced rate (such as books or food in many countries)"),
    ("zero", "Zero rate"),
)


def parse_tax_class(value) -> str:
    """``standard``, ``reduced`` or ``zero`` (any case, spaces around ignored)."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in TAX_CLASSES:
        raise ValueError(f"The tax class must be one of {', '.join(TAX_CLASSES)}.")
    return text


def parse_weight(value) -> int:
    """Whole grams from 0 to ``MAX_WEIGHT``, from text ("350") or a JSON integer."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Write the weight in whole grams, such as 350.")
    text = value.strip() if isinstance(value, str) else str(value)
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError("Write the weight in whole grams, such as 350.")
    # The length first: no int() of a 10,000-digit string that is refused anyway.
    if text.startswith("-") or len(digits) > 9 or int(digits) > MAX_WEIGHT:
        raise ValueError(f"The weight must be between 0 and {MAX_WEIGHT:,} grams.")
    return int(digits)
