# The same app as the account tests: the probe plugin and a fast bcrypt cost.
from tests.accounts.conftest import _forget_probe_logins, app_settings, mercato_plugins  # noqa: F401

# The composed shop, for the hostile-input tests.
from tests.shop.conftest import (  # noqa: F401
    demo_shop,
    demo_shopper,
    demo_staff,
    make_demo_shop,
    shop_catalog,
)
