"""Server-side pricing: unit prices, adjustments, shipping and tax from the hooks.

A price sent by a client is never read: every total is computed here from
``mercato_unit_price``, ``mercato_price_adjustments``, ``mercato_shipping_options`` and
``mercato_tax_lines``, in that order (docs/plugins.md, "Pricing").

Rounding is per line: a tax plugin rounds each line's tax (and the shipping's) to the
currency's minor unit, and the total is the sum of those integers, so the amount charged
always equals the total shown.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .money import Money

# The shipping line's ``TaxLine.target``.
SHIPPING = "shipping"


@dataclass(frozen=True)
class Destination:
    """Where an order goes: an ISO 3166-1 country code, the ISO 3166-2 subdivision
    without its country prefix (``"NY"`` for US-NY, ``""`` when not given) and the
    postal code."""

    country: str
    region: str = ""
    postal_code: str = ""


@dataclass
class PricingContext:
    """What pricing hooks may look at besides the lines.

    ``destination`` is ``None`` until the shopper says where the order goes (or asks
    for an estimate by country on the cart page); ``shipping_method`` is the code of the
    ``ShippingOption`` they chose; ``vat_number`` a business's VAT number (upper case,
    no spaces) or ``""``.
    """

    currency: str
    dbsession: Any = None
    customer: Any = None
    request: Any = None
    destination: Destination | None = None
    shipping_method: str | None = None
    vat_number: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SkuDetails:
    """How a SKU is shown to a shopper (the seller plugin's words, not the SKU code),
    and what shipping and tax need to know of it: its tax class (``standard``,
    ``reduced``, ``zero`` …) and its weight in grams per unit."""

    name: str
    url: str | None = None
    image_url: str | None = None
    tax_class: str = "standard"
    weight: int = 0


@dataclass(frozen=True)
class ShippingOption:
    """A way to ship the cart to the destination: ``price`` is in the same terms as the
    goods' prices (tax included when the shop's prices include it), ``estimate`` a few
    words for the shopper ("2–3 working days")."""

    code: str
    name: str
    price: Money
    estimate: str = ""
    source: str = ""


@dataclass(frozen=True)
class TaxLine:
    """Tax on one line (``target`` is its SKU) or on the shipping (``SHIPPING``).

    ``included``: the amount is inside the price already (shown, not added to the
    total); otherwise it is added. A negative amount takes tax out of an included price
    (an export, a reverse-charged business sale).
    """

    name: str
    rate: Decimal
    amount: Money
    included: bool
    target: str


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
    tax_class: str = "standard"
    weight: int = 0  # grams per unit

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
    """The priced cart. ``shipping_options`` are what the destination allows (empty
    without a destination); ``shipping`` is the chosen one, if it is among them;
    ``shipping_required``: some plugin ships goods, so an order needs a method."""

    lines: list[Line]
    adjustments: list[Adjustment]
    unpriced: list[str]
    currency: str
    shipping_options: list[ShippingOption] = field(default_factory=list)
    shipping: ShippingOption | None = None
    taxes: list[TaxLine] = field(default_factory=list)
    shipping_required: bool = False

    @property
    def subtotal(self) -> Money:
        return sum((line.total for line in self.lines), Money.zero(self.currency))

    @property
    def shipping_price(self) -> Money:
        return self.shipping.price if self.shipping else Money.zero(self.currency)

    def added_tax(self, target: str | None = None) -> Money:
        """The tax added on top of the prices (for one line's SKU, or ``SHIPPING``)."""
        return sum(
            (
                tax.amount
                for tax in self.taxes
                if not tax.included and (target is None or tax.target == target)
            ),
            Money.zero(self.currency),
        )

    @property
    def total(self) -> Money:
        adjusted = sum((adj.amount for adj in self.adjustments), self.subtotal)
        return adjusted + self.shipping_price + self.added_tax()

    def summary(self) -> list[dict]:
        """The rows under the lines, as every page, email and API shows them."""
        return summary_rows(
            self.subtotal,
            [(adj.label, adj.amount) for adj in self.adjustments],
            (self.shipping.name, self.shipping.price) if self.shipping else None,
            [(t.name, t.rate, t.amount, t.included) for t in self.taxes],
            self.total,
        )


def summary_rows(subtotal: Money, adjustments, shipping, taxes, total: Money) -> list[dict]:
    """Subtotal, each adjustment, the shipping, the tax by name and rate, the total:
    ``[{"kind", "label", "amount", "included"}]``. Tax lines of the same name, rate and
    kind are summed, so a shopper sees "VAT 19% (included)" once, not once per line."""
    rows = [{"kind": "subtotal", "label": "Subtotal", "amount": subtotal, "included": False}]
    rows += [
        {"kind": "adjustment", "label": label, "amount": amount, "included": False}
        for label, amount in adjustments
    ]
    if shipping is not None:
        rows.append(
            {"kind": "shipping", "label": shipping[0], "amount": shipping[1], "included": False}
        )
    grouped: dict[tuple, Money] = {}
    for name, rate, amount, included in taxes:
        key = (name, Decimal(rate), included)
        grouped[key] = grouped[key] + amount if key in grouped else amount
    rows += [
        {"kind": "tax", "label": name, "amount": amount, "included": included, "rate": rate}
        for (name, rate, included), amount in grouped.items()
    ]
    rows.append({"kind": "total", "label": "Total", "amount": total, "included": False})
    return rows


def price_lines(hooks, lines: list[Line], context: PricingContext) -> PricedLines:
    """Price every line through the hooks, collect every plugin's adjustments, then
    the shipping options for the destination and the tax on lines and shipping.

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
    result = PricedLines(priced, adjustments, unpriced, context.currency)
    result.shipping_required = bool(hooks.mercato_shipping_options.get_hookimpls())
    if context.destination is None or not priced:
        return result
    for contribution in hooks.mercato_shipping_options(lines=priced, context=context):
        result.shipping_options.extend(contribution or ())
    for option in result.shipping_options:
        if option.price.currency != context.currency:
            raise ValueError(f"shipping {option.code!r} is not in {context.currency}")
    result.shipping = next(
        (o for o in result.shipping_options if o.code == context.shipping_method), None
    )
    taxes = hooks.mercato_tax_lines(
        lines=priced, adjustments=adjustments, shipping=result.shipping, context=context
    )
    for tax in taxes or ():
        if tax.amount.currency != context.currency:
            raise ValueError(f"tax {tax.name!r} is not in {context.currency}")
    result.taxes = list(taxes or ())
    return result
