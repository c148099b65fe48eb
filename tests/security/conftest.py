# The same app as the account tests: the probe plugin and a fast bcrypt cost.
from tests.accounts.conftest import _forget_probe_logins, app_settings, mercato_plugins  # noqa: F401
