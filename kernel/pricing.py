"""Server-side pricing: unit prices and adjustments from the hooks, folded in config order.

A price sent by a client is never read: every total is computed here from
``mercato_unit_price`` and ``mercato_price_adjustments``.
"""

from dataclasses import dataclass, field
from typing import Any

from .money import Money


@dataclass
class PricingContext:
    """What pricing hooks may look at besides the lines."""

    currency: str
    dbsession: Any = None
    customer: Any = None
    request: Any = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SkuDetails:
    """How a SKU is shown to a shopper: the seller plugin's words, not the SKU code."""

    name: str
    url: str | None = None
    image_url: str | None = None


def describe_skus(request, skus) -> dict[str, SkuDetails]:
    """Every plugin's ``mercato_sku_details`` merged; the first plugin in config order wins."""
    skus = list(dict.fromkeys(skus))
    merged: dict[str, SkuDetails] = {}
    if not skus:
        return merged
    for contribution in request.hooks.mercato_sku_details(request=request, skus=skus):
        for sku, details in (contribution or {}).items():
            merged.setdefault(sku, details)
    return merged


@dataclass
class Line:
    """One priced line: ``quantity`` units of ``sku`` at ``unit_price``."""

    sku: str
    quantity: int
    unit_price: Money | None = None
    name: str = ""

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Adjustment:
    """A discount (negative), a tax or a shipping charge, shown as its own line."""

    label: str
    amount: Money
    code: str = ""
    source: str = ""


@dataclass
class PricedLines:
    lines: list[Line]
    adjustments: list[Adjustment]
    unpriced: list[str]
    currency: str

    @property
    def subtotal(self) -> Money:
        return sum((line.total for line in self.lines), Money.zero(self.currency))

    @property
    def total(self) -> Money:
        return sum((adj.amount for adj in self.adjustments), self.subtotal)


def price_lines(hooks, lines: list[Line], context: PricingContext) -> PricedLines:
    """Price every line through the hooks, then collect every plugin's adjustments.

    Lines no plugin can price (an unknown or withdrawn SKU) are left out of the totals
    and named in ``unpriced`` so the caller can tell the shopper.
    """
    priced, unpriced = [], []
    for line in lines:
        price = hooks.mercato_unit_price(sku=line.sku, quantity=line.quantity, context=context)
        if price is None:
            unpriced.append(line.sku)
            continue
        if price.currency != context.currency:
            raise ValueError(f"{line.sku} is priced in {price.currency}, not {context.currency}")
        line.unit_price = price
        priced.append(line)
    adjustments: list[Adjustment] = []
    # pluggy returns results in call order, which the plugin manager makes config order.
    for contribution in hooks.mercato_price_adjustments(lines=priced, context=context):
        adjustments.extend(contribution or ())
    for adjustment in adjustments:
        if adjustment.amount.currency != context.currency:
            raise ValueError(f"adjustment {adjustment.label!r} is not in {context.currency}")
    return PricedLines(priced, adjustments, unpriced, context.currency)
