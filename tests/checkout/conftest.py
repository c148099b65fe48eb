"""The checkout tests' fixtures live in ``tests.checkout.shopping`` (shared with the
Stripe tests)."""

from .shopping import (  # noqa: F401
    serve,
    served_settings,
    shop,
    shop_items,
    shop_settings,
    shopper,
)
