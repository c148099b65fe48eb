"""Flat-rate shipping for Mercato: the smallest useful plugin, in one module.

Every order pays ``mercato.flat_shipping.rate``; one whose goods reach
``mercato.flat_shipping.free_over`` ships free.
"""

from decimal import Decimal

import colander

from mercato import Adjustment, ConfigurationError, Money, hookimpl

NAME = "flat_shipping"


class Settings(colander.MappingSchema):
    rate = colander.SchemaNode(
        colander.Decimal(), missing=Decimal("4.90"), validator=colander.Range(min=0)
    )
    # Leave unset to charge shipping on every order.
    free_over = colander.SchemaNode(
        colander.Decimal(), missing=None, validator=colander.Range(min=0)
    )
    label = colander.SchemaNode(colander.String(), missing="Shipping")


@hookimpl
def mercato_settings_schema():
    return Settings()


@hookimpl
def mercato_configure(config):
    # Refuse at start-up what the shop's currency cannot hold (4.905 EUR, 4.90 JPY).
    settings = config.registry.settings
    for key, value in settings[f"mercato.{NAME}"].items():
        if isinstance(value, Decimal):
            try:
                Money.parse(str(value), settings["mercato.currency"])
            except ValueError as exc:
                raise ConfigurationError(
                    f"mercato: plugin '{NAME}' setting mercato.{NAME}.{key}: {exc}"
                ) from None


@hookimpl
def mercato_price_adjustments(lines, context):
    if not lines:
        return None
    settings = context.request.registry.settings[f"mercato.{NAME}"]
    goods = sum((line.total for line in lines), Money.zero(context.currency))
    free_over = settings["free_over"]
    if free_over is not None and goods >= Money.parse(str(free_over), context.currency):
        fee, label = Money.zero(context.currency), f"{settings['label']} (free)"
    else:
        fee, label = Money.parse(str(settings["rate"]), context.currency), settings["label"]
    return [Adjustment(label=label, amount=fee, source=NAME)]
