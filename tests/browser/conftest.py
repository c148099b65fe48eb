"""The storefront as ``mercato demo`` shows it, for the layout, accessibility and
Lighthouse tests: the plugins of config/development.ini, every plugin's sample data
(``mercato_sample_data``: the catalog's products, the shipping zones, the tax rates),
served by waitress on loopback, and Debian's Chromium driven by Playwright."""

from pathlib import Path

import pytest
import transaction
from webtest.http import StopableWSGIServer
from zope.sqlalchemy import register

from mercato import make_app
from mercato.testing import base_settings
from tests.shop.conftest import demo_plugins

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Pages of the demo catalog every test visits (plugins/catalog/sample.py).
CATEGORY = "/c/clothing"
PRODUCT = "/p/organic-cotton-t-shirt"
SEARCH = "/search?q=mug"


def add_sample_data(app) -> None:
    """What ``mercato demo`` adds on its first start (mercato.ops.demo._demo_data)."""
    with transaction.manager:
        session = app.registry.dbsession_factory()
        register(session, transaction_manager=transaction.manager)
        app.registry.hooks.mercato_sample_data(
            dbsession=session, settings=app.registry.settings, progress=lambda _: None
        )


@pytest.fixture
def sample_shop(migrated_database, redis_url, stripe_settings, localstripe, clean_stores):
    """The demo-composed shop with its sample data, served; yields its base URL."""
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": " ".join(demo_plugins()),
            "mercato.shop_name": "Mercato Demo Shop",
            "mercato.notifications.transport": "log",
            **stripe_settings,
        }
    )
    app = make_app(settings, environ={})
    add_sample_data(app)
    server = StopableWSGIServer.create(app, host="127.0.0.1", threads=4)
    localstripe.send_webhooks_to(f"{server.application_url}stripe/webhook")
    yield server.application_url.rstrip("/")
    server.shutdown()
    app.registry.db_engine.dispose()
    app.registry.redis.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """What the page's console said went wrong; a test takes out the ones it expects."""
    return []


@pytest.fixture
def page(browser, console_errors):
    """A shopper's tab, 390 px wide (a phone) until a test resizes it."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert console_errors == [], "no script error, failed load or CSP violation on any page"
