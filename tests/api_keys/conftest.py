"""The shop exactly as ``mercato demo`` composes it, plus the api_keys plugin; keys are
made through the admin's own form and used the way an integration uses them: a client
with no cookie, ``Authorization: Bearer``, and no CSRF token."""

import re

import pytest
from webtest import TestApp

from tests.shop.conftest import (  # noqa: F401 (fixtures used here)
    demo_plugins,
    demo_shopper,
    make_demo_shop,
    shop_catalog,
)

SECRET = re.compile(r"mk_live_[A-Za-z0-9_-]{43}")
PRODUCT = {"name": "Enamel Mug", "variants": [{"sku": "ENAMEL", "price": "14.00", "stock": 5}]}


@pytest.fixture
def key_shop(make_demo_shop):  # noqa: F811 (the fixture imported above)
    """``key_shop(**settings)``: the composed shop (api_keys is one of the demo's
    plugins), served on loopback."""
    assert "api_keys" in demo_plugins()
    return lambda **overrides: make_demo_shop(**overrides)


@pytest.fixture
def demo_shop(key_shop):
    return key_shop()


@pytest.fixture
def shop(demo_shop):
    return demo_shop


@pytest.fixture
def admin(shop, admin_user):
    """An admin's browser, logged in."""
    browser = shop.browser()
    browser.log_in(admin_user.email, admin_user.password)
    return browser


def make_key(admin, owner_id: int, scopes=("catalog:write",), name="ERP sync") -> str:
    """A key acting as ``owner_id``, made through the admin's form; its secret, read
    from the page that shows it once."""
    fields = [("csrf_token", admin.token), ("name", name), ("owner", str(owner_id))]
    fields += [("scope", scope) for scope in scopes]
    page = admin.app.post("/admin/api-keys", fields, status=201)
    return SECRET.search(page.text).group()


def client(shop, secret: str | None = None, **environ) -> TestApp:
    """A client that is not a browser: no cookie from before, the key as a bearer token."""
    if secret is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return TestApp(shop.app, extra_environ={"REMOTE_ADDR": "127.0.0.1", **environ})
