"""pytest fixtures for shops and plugins that take card payments through this plugin
(installed with it: a ``pytest11`` entry point).

``localstripe``: one server per test run; ``stripe_settings``: that server emptied for
the test, and the ``mercato.payments_stripe.*`` settings that point an app at it. The
server and its keys (``API_KEY`` …) are in ``mercato_payments_stripe.embedded``, also
used by ``mercato demo``.
"""

import pytest

from .embedded import EmbeddedStripe


@pytest.fixture(scope="session")
def localstripe():
    server = EmbeddedStripe()
    yield server
    server.stop()


@pytest.fixture
def stripe_settings(localstripe):
    """localstripe emptied for this test, and the settings that point an app at it."""
    localstripe.reset()
    return localstripe.settings()
