# The same app as the account tests: the probe plugin and a fast bcrypt cost.
from tests.accounts.conftest import _forget_probe_logins, app_settings, mercato_plugins  # noqa: F401

# The composed shop, for the hostile-input tests.
from tests.shop.conftest import demo_shop, demo_shopper, demo_staff, shop_catalog  # noqa: F401
