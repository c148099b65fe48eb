"""Flat-rate shipping for Mercato: the smallest useful plugin, in one module.

Every destination gets one method at ``mercato.flat_shipping.rate``; an order whose
goods reach ``mercato.flat_shipping.free_over`` ships free.
"""

from decimal import Decimal

import colander

from mercato import ConfigurationError, Money, ShippingOption, hookimpl

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
    estimate = colander.SchemaNode(colander.String(), missing="")


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
def mercato_shipping_options(lines, context):
    settings = context.request.registry.settings[f"mercato.{NAME}"]
    goods = sum((line.total for line in lines), Money.zero(context.currency))
    free_over = settings["free_over"]
    if free_over is not None and goods >= Money.parse(str(free_over), context.currency):
        price = Money.zero(context.currency)
    else:
        price = Money.parse(str(settings["rate"]), context.currency)
    return [ShippingOption(NAME, settings["label"], price, settings["estimate"], source=NAME)]
