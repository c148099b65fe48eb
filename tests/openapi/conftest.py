"""An app with every installed plugin: the first-party ones the demo runs, the
examples (third-party style) and any other installed, so that the document is checked
against every ``/api`` route there is."""

import pytest

from mercato.testing import all_plugin_names
from tests.browser.conftest import browser, console_errors, page, sample_shop  # noqa: F401
from tests.shop.conftest import (  # noqa: F401
    demo_shopper,
    demo_staff,
    make_demo_shop,
    shop_catalog,
)


@pytest.fixture
def every_plugin_app(make_test_app, stripe_settings):
    return make_test_app(
        plugins=all_plugin_names(),
        **stripe_settings,
        # The example tax service: never called by these tests (no checkout is priced).
        **{
            "mercato.tax_service.url": "http://127.0.0.1:9/v1/tax",
            "mercato.tax_service.api_key": "not-used",
            "mercato.accounts.bcrypt_rounds": "4",
        },
    )
