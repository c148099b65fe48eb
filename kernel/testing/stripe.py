"""localstripe fixtures: one server per test run (``localstripe``), emptied for each test
that asks for ``stripe_settings`` (the ``mercato.payments_stripe.*`` settings that point
an app at it). The server itself is ``mercato.embedded.EmbeddedStripe``, also used by
``mercato demo``.
"""

import pytest

from mercato.embedded import (  # noqa: F401 (re-exported for tests)
    API_KEY,
    PUBLISHABLE_KEY,
    WEBHOOK_SECRET,
    EmbeddedStripe,
)


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
