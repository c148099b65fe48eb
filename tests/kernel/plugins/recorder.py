"""Plugins that record when their hooks are called, to observe call order."""

from mercato import Adjustment, Money, hookimpl

CALLS: list[str] = []


class Recorder:
    def __init__(self, name: str, amount: int):
        self.name = name
        self.amount = amount

    @hookimpl
    def mercato_price_adjustments(self, lines, context):
        CALLS.append(self.name)
        return [Adjustment(label=self.name, amount=Money(self.amount, context.currency))]

    @hookimpl
    def mercato_unit_price(self, sku, context):
        CALLS.append(f"{self.name}:price")
        return Money(1000, context.currency) if sku == f"{self.name}-SKU" else None


first = Recorder("first", -100)
second = Recorder("second", 250)
third = Recorder("third", 5)
