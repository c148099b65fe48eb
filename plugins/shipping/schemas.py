"""The plugin's settings and what staff send in its forms, checked before anything is
saved: each reader returns clean values and ``{field: message}`` for what is wrong."""

import re
from decimal import Decimal

import colander

from mercato import Money, countries, minor_digits, regions, text_field, validate_form

from .models import FLAT, RATE_TYPES, VALUE, WEIGHT

# Far above any real rate or parcel, far below what a bigint or a sum could overflow.
MAX_AMOUNT = 10**10  # minor units: 100 million euros
MAX_GRAMS = 10**8  # 100 tonnes
AMOUNT = re.compile(r"^-?\d{1,15}(\.\d{1,6})?$")
KILOGRAMS = re.compile(r"^\d{1,9}(\.\d{1,3})?$")
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
REGION = re.compile(r"^([A-Z]{2})-([A-Z0-9]{1,3})$")
MAX_REGIONS = 500


class Settings(colander.MappingSchema):
    """``mercato.shipping.*``"""

    max_tiers = colander.SchemaNode(
        colander.Int(),
        missing=20,
        validator=colander.Range(min=1, max=200),
        description="the most weight or order-value tiers one method may have",
    )
    cart_estimate = colander.SchemaNode(
        colander.Boolean(),
        missing=True,
        description="show the 'Estimate shipping to' form on the cart page",
    )


def no_markup(node, value):
    # Names are escaped wherever they are shown; refusing markup tells staff at once
    # that "<b>Express</b>" would be shown to shoppers as typed.
    if "<" in value or ">" in value:
        raise colander.Invalid(node, "Please leave out < and >: this is plain text.")


def _text(title: str, max_length: int, missing=colander.required):
    node = text_field(title, max_length, missing=missing)
    node.validator = colander.All(node.validator, no_markup)
    return node


def _position():
    return colander.SchemaNode(
        colander.Int(), missing=0, validator=colander.Range(min=0, max=10_000), title="Position"
    )


class ZoneForm(colander.MappingSchema):
    name = _text("Name", 100)
    position = _position()


def _code(value):
    return value.strip().lower() if isinstance(value, str) else value


class MethodForm(colander.MappingSchema):
    name = _text("Name", 100)
    code = colander.SchemaNode(
        colander.String(),
        preparer=_code,
        validator=colander.Regex(
            CODE, "Use lowercase letters, digits, - and _ only (at most 64), like de-standard."
        ),
        missing_msg="Please fill this in.",
    )
    rate_type = colander.SchemaNode(
        colander.String(),
        validator=colander.OneOf(list(RATE_TYPES), msg_err="Choose one of the rate types."),
        missing_msg="Choose one of the rate types.",
    )
    estimate = _text("Delivery estimate", 100, missing="")
    active = colander.SchemaNode(colander.Boolean(), missing=False)
    position = _position()


# ---------------------------------------------------------------------------
# Amounts and weights, typed by a person
# ---------------------------------------------------------------------------


def read_amount(text: str, currency: str) -> int:
    """Minor units from ``"4.90"``; ``ValueError`` with a sentence for staff."""
    text = text.strip()
    if not AMOUNT.match(text):
        raise ValueError(f"Write an amount in {currency}, like 4.90.")
    try:
        amount = Money.parse(text, currency).amount
    except ValueError:
        digits = minor_digits(currency)
        raise ValueError(f"{currency} amounts have at most {digits} decimals.") from None
    if amount < 0:
        raise ValueError("The amount must be 0 or more.")
    if amount > MAX_AMOUNT:
        raise ValueError("That amount is far too large for a shipping rate.")
    return amount


def read_grams(text: str) -> int:
    """Grams from kilograms typed as ``"2"`` or ``"0.5"``."""
    text = text.strip()
    if not KILOGRAMS.match(text):
        raise ValueError("Write a weight in kg, like 2 or 0.5 (at most 3 decimals).")
    grams = int(Decimal(text) * 1000)
    if grams > MAX_GRAMS:
        raise ValueError("That weight is far beyond any parcel.")
    return grams


def show_amount(amount: int | None, currency: str) -> str:
    return "" if amount is None else str(Money(amount, currency).decimal())


def show_kilograms(grams: int | None) -> str:
    if grams is None:
        return ""
    text = f"{Decimal(grams) / 1000:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------------------
# The zone form
# ---------------------------------------------------------------------------


def read_countries(codes: list[str]) -> tuple[list[str], str | None]:
    known = dict(countries())
    unknown = [code for code in codes if code not in known]
    if unknown:
        return [], f"Unknown country code: {unknown[0][:10]}. Choose countries from the list."
    return sorted(set(codes), key=lambda code: known[code]), None


def read_regions(text: str) -> tuple[list[str], str | None]:
    """ISO 3166-2 codes separated by commas or spaces (``US-AK, US-HI``)."""
    codes = [code for code in re.split(r"[\s,;]+", text.strip().upper()) if code]
    if len(codes) > MAX_REGIONS:
        return [], f"A zone may list at most {MAX_REGIONS} regions."
    for code in codes:
        match = REGION.match(code)
        if not match or match.group(2) not in dict(regions(match.group(1))):
            return [], (
                f"Unknown region: {code[:12]}. Write ISO 3166-2 codes, like US-AK or DE-BY."
            )
    return sorted(set(codes)), None


def read_zone_form(post) -> tuple[dict | None, dict[str, str]]:
    values, errors = validate_form(ZoneForm(), post)
    chosen, error = read_countries(post.getall("countries"))
    if error:
        errors["countries"] = error
    named, error = read_regions(post.get("regions", ""))
    if error:
        errors["regions"] = error
    if not chosen and not named and "countries" not in errors and "regions" not in errors:
        errors["countries"] = "Choose at least one country (or name a region)."
    if errors:
        return None, errors
    return {**values, "countries": chosen, "regions": named}, {}


def zone_form_values(post) -> dict:
    """What staff typed, to show again next to the errors."""
    return {
        "name": post.get("name", ""),
        "position": post.get("position", ""),
        "countries": post.getall("countries"),
        "regions": post.get("regions", ""),
    }


# ---------------------------------------------------------------------------
# The method form
# ---------------------------------------------------------------------------


def read_tiers(ups, prices, rate_type: str, currency: str, max_tiers: int):
    """``[{"up_to", "price"}]`` from the form's rows (blank rows skipped), or an error."""
    if len(ups) != len(prices):
        return None, "Each tier needs an “up to” and a price field; please reload the form."
    rows = [(up.strip(), price.strip()) for up, price in zip(ups, prices, strict=True)]
    rows = [row for row in rows if row != ("", "")]
    if len(rows) > max_tiers:
        return None, f"A method may have at most {max_tiers} tiers."
    if not rows:
        return None, "Give at least one tier: an “up to” and its price."
    tiers, previous = [], -1
    for number, (up, price) in enumerate(rows, 1):
        try:
            limit = None
            if up:
                limit = read_grams(up) if rate_type == WEIGHT else read_amount(up, currency)
                if limit <= previous:
                    raise ValueError("Each tier must go higher than the one before.")
                previous = limit
            elif number < len(rows):
                raise ValueError("Only the last tier may leave “up to” empty (no limit).")
            if not price:
                raise ValueError("Give the tier a price.")
            tiers.append({"up_to": limit, "price": read_amount(price, currency)})
        except ValueError as exc:
            return None, f"Tier {number}: {exc}"
    return tiers, None


def read_method_form(post, currency: str, max_tiers: int) -> tuple[dict | None, dict[str, str]]:
    values, errors = validate_form(MethodForm(), post)
    rate_type = values["rate_type"] if values else post.get("rate_type")
    price = tiers = free_over = None
    if rate_type == FLAT:
        try:
            price = read_amount(post.get("price", ""), currency)
        except ValueError as exc:
            errors["price"] = str(exc)
    elif rate_type in (WEIGHT, VALUE):
        tiers, error = read_tiers(
            post.getall("tier_up_to"), post.getall("tier_price"), rate_type, currency, max_tiers
        )
        if error:
            errors["tiers"] = error
    if post.get("free_over", "").strip():
        try:
            free_over = read_amount(post.get("free_over", ""), currency)
        except ValueError as exc:
            errors["free_over"] = str(exc)
    if errors:
        return None, errors
    return {
        **values,
        "price": price,
        "tiers": tiers or [],
        "free_over": free_over,
        "currency": currency,
    }, {}


def method_form_values(post, max_tiers: int) -> dict:
    """What staff typed, to show again next to the errors (as many tiers as a method
    may have: a post of thousands is not echoed back)."""
    names = ("name", "code", "rate_type", "price", "free_over", "estimate", "position")
    values = {name: post.get(name, "") for name in names}
    values["active"] = post.get("active") == "true"
    rows = zip(post.getall("tier_up_to"), post.getall("tier_price"), strict=False)
    values["tiers"] = [row for row in rows if row != ("", "")][:max_tiers]
    return values


def method_values(method, currency: str) -> dict:
    """A saved method's fields as the form shows them."""
    up_to = show_kilograms if method.rate_type == WEIGHT else lambda a: show_amount(a, currency)
    return {
        "name": method.name,
        "code": method.code,
        "rate_type": method.rate_type,
        "price": show_amount(method.price, currency),
        "free_over": show_amount(method.free_over, currency),
        "estimate": method.estimate,
        "position": method.position,
        "active": method.active,
        "tiers": [(up_to(t["up_to"]), show_amount(t["price"], currency)) for t in method.tiers],
    }
