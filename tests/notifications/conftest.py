"""Fixtures for the outbox and the notifications plugin: an app whose SMTP settings
point at the test's aiosmtpd server, sessions joined to a ``transaction`` the way a
request's is, and order payloads shaped like checkout's."""

import pytest

from mercato.ops.outbox import BEHIND_KEY
from mercato.outbox import REGISTRY_KEY


@pytest.fixture
def mercato_plugins():
    return ["notifications"]


@pytest.fixture
def smtp_settings(smtp_server):
    return {
        "mercato.notifications.host": smtp_server.host,
        "mercato.notifications.port": str(smtp_server.port),
        "mercato.notifications.timeout": "2",
        "mercato.notifications.from_address": "orders@shop.example",
    }


@pytest.fixture
def make_registry(make_test_app, smtp_settings, mercato_plugins):
    """``make_registry(**settings)``: the registry of a real app with the notifications
    plugin pointed at ``smtp_server``."""

    def factory(plugins=None, **settings):
        testapp = make_test_app(plugins=plugins or mercato_plugins, **smtp_settings, **settings)
        return testapp.app.registry

    return factory


@pytest.fixture
def registry(make_registry):
    return make_registry()


class Settled:
    """A transaction manager whose ``with`` block returns once the deliveries its commit
    handed to the app's outbox thread are done, as a webtest request does (mercato.testing)."""

    def __init__(self, manager, registry):
        self.manager, self.registry = manager, registry

    def __enter__(self):
        return self.manager.__enter__()

    def __exit__(self, *exc_info):
        try:
            return self.manager.__exit__(*exc_info)
        finally:
            assert self.registry[BEHIND_KEY].drain(timeout=30), "still delivering"

    def __getattr__(self, name):
        return getattr(self.manager, name)


def joined_to(tm_session, registry):
    """``(session, transaction manager)`` where the session knows its app, exactly as
    ``request.dbsession`` does, so ``enqueue`` delivers after the commit."""
    session, manager = tm_session
    session.info[REGISTRY_KEY] = registry
    return session, Settled(manager, registry)


@pytest.fixture
def app_session(tm_session, registry):
    return joined_to(tm_session, registry)
