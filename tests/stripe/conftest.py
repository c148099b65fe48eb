"""The Stripe tests shop with the checkout tests' shop (``tests.checkout.shopping``)."""

from tests.checkout.shopping import shop, shop_items, shop_settings, shopper  # noqa: F401
