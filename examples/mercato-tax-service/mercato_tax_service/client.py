"""The tax API, as this plugin speaks it: one JSON POST per priced cart.

The question (every amount in minor units of ``currency``)::

    {"currency": "EUR",
     "destination": {"country": "US", "region": "NY", "postal_code": "10001"},
     "vat_number": "",
     "lines": [{"sku": "TEE", "quantity": 2, "amount": 4800, "tax_class": "standard"}],
     "adjustments": [{"label": "Discount SUMMER10", "amount": -480}],
     "shipping": {"code": "standard", "amount": 490}}          # or null

The answer: one entry per tax on a line (``target`` is its SKU) or on the shipping
(``target`` is ``"shipping"``), rounded to the minor unit by the service::

    {"taxes": [{"target": "TEE", "name": "Sales tax", "rate": "0.08875",
                "amount": 426, "included": false}]}
"""

import json
import urllib.error
import urllib.request
from decimal import Decimal, InvalidOperation
from http.client import HTTPException

from mercato import SHIPPING, Money, TaxLine

# A tax answer is a few kilobytes; anything much larger is not one.
MAX_ANSWER_BYTES = 1024 * 1024
USER_AGENT = "mercato-tax-service/1.0"


class Unanswered(Exception):
    """The service could not be reached, refused, or answered something that is not a
    tax answer for this question; the message says which, for the log."""


def question(lines, adjustments, shipping, context) -> dict:
    destination = context.destination
    return {
        "currency": context.currency,
        "destination": {
            "country": destination.country,
            "region": destination.region,
            "postal_code": destination.postal_code,
        },
        "vat_number": context.vat_number,
        "lines": [
            {
                "sku": line.sku,
                "quantity": line.quantity,
                "amount": line.total.amount,
                "tax_class": line.tax_class,
            }
            for line in lines
        ],
        "adjustments": [{"label": a.label, "amount": a.amount.amount} for a in adjustments],
        "shipping": (
            {"code": shipping.code, "amount": shipping.price.amount} if shipping else None
        ),
    }


def ask(url: str, api_key: str, timeout: float, body: bytes) -> object:
    """POST ``body`` to the service; its JSON answer, or ``Unanswered``."""
    # The URL's scheme is checked (http or https only) when the settings are read.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {api_key}",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:  # before OSError: it is one
        raise Unanswered(f"it answered HTTP {exc.code}") from None
    except (OSError, HTTPException) as exc:  # refused, timed out, cut off
        raise Unanswered(f"it could not be reached: {exc!r}") from None
    if len(raw) > MAX_ANSWER_BYTES:
        raise Unanswered("its answer is larger than a tax answer can be")
    try:
        return json.loads(raw)
    except ValueError:
        raise Unanswered("its answer is not JSON") from None


def tax_lines(answer, lines, shipping, currency: str) -> list[TaxLine]:
    """The answer as ``TaxLine``s, checked against the question: every tax targets a
    line or the shipping that was asked about, and is no larger than what it taxes (a
    rate is at most 100 %), so a confused service cannot inflate a total."""
    bases = {line.sku: line.total.amount for line in lines}
    if shipping is not None:
        bases[SHIPPING] = shipping.price.amount
    if not isinstance(answer, dict) or not isinstance(answer.get("taxes"), list):
        raise Unanswered('its answer has no "taxes" list')
    return [_tax_line(entry, bases, currency) for entry in answer["taxes"]]


def _tax_line(entry, bases: dict[str, int], currency: str) -> TaxLine:
    if not isinstance(entry, dict):
        raise Unanswered(f"a tax is not an object: {entry!r:.80}")
    target, name, amount = entry.get("target"), entry.get("name"), entry.get("amount")
    included, rate = entry.get("included"), _rate(entry.get("rate"))
    if target not in bases:
        raise Unanswered(f"a tax targets {target!r:.40}, which was not asked about")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 100:
        raise Unanswered(f"a tax on {target} has no usable name")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise Unanswered(f"the tax on {target} is not an amount in minor units")
    if abs(amount) > abs(bases[target]):
        raise Unanswered(f"the tax on {target} ({amount}) exceeds what it taxes")
    if not isinstance(included, bool):
        raise Unanswered(f"the tax on {target} does not say whether it is included")
    return TaxLine(
        name=name.strip(),
        rate=rate,
        amount=Money(amount, currency),
        included=included,
        target=target,
    )


def _rate(value) -> Decimal:
    """A rate as a fraction (``"0.19"``); a JSON number is read by its shortest text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unanswered(f"a tax rate is not a number: {value!r:.40}")
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise Unanswered(f"a tax rate is not a number: {value!r:.40}") from None
    if not rate.is_finite() or not 0 <= rate <= 1:
        raise Unanswered(f"a tax rate is not between 0 and 1: {value!r:.40}")
    return rate
