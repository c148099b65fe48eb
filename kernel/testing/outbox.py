"""Tests see what a request sent once it has answered.

The outbox delivers a request's emails and webhooks on a thread behind the response
(``mercato.ops.outbox.Behind``). A test asserting on the mail server or the outbox table
right after a webtest request would race that thread, so every webtest request of the
run waits for the deliveries it queued before returning: the same wrapper pattern as
``openapi_checked_responses``. A test about the wait itself turns it off for one client:
``testapp.settle_deliveries = False``.
"""

import pytest
import webtest

from mercato.ops.outbox import BEHIND_KEY


@pytest.fixture(scope="session", autouse=True)
def settled_deliveries():
    """Every webtest answer of the run returns once its app's outbox thread is idle."""
    unsettled = webtest.TestApp.do_request

    def do_request(self, req, status=None, expect_errors=None):
        response = unsettled(self, req, status=status, expect_errors=expect_errors)
        registry = getattr(self.app, "registry", None)
        deliveries = registry.get(BEHIND_KEY) if registry is not None else None
        if deliveries is not None and getattr(self, "settle_deliveries", True):
            assert deliveries.drain(timeout=30), "the outbox thread is still delivering"
        return response

    webtest.TestApp.do_request = do_request
    yield
    webtest.TestApp.do_request = unsettled
