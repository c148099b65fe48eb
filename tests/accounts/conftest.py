import pytest

from tests.accounts import probe


@pytest.fixture
def mercato_plugins():
    return ["tests.accounts.probe"]


@pytest.fixture
def app_settings(app_settings):
    # bcrypt's lowest cost: the tests prove behaviour, not hashing speed.
    return {**app_settings, "mercato.accounts.bcrypt_rounds": "4"}


@pytest.fixture(autouse=True)
def _forget_probe_logins():
    probe.LOGINS.clear()
