"""The composed shop with default plugins switched off (``no:admin``, ``no:accounts``,
``no:storefront`` and their combinations): every page a shopper or an admin can reach by
following links answers, and none answers 5xx. A page that needs a switched-off plugin
is absent (404), not broken."""

import html
import itertools
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from mercato import User
from mercato.testing import csrf_token

from .conftest import demo_plugins

SIGN_IN_PLUGIN = "tests.shop.sign_in_plugin"
DEFAULTS = ("admin", "accounts", "storefront")
SWITCHED_OFF = [
    combination
    for size in range(1, len(DEFAULTS) + 1)
    for combination in itertools.combinations(DEFAULTS, size)
] + [("api",), ("storefront", "api"), (*DEFAULTS, "api")]  # the JSON API too
# The catalog's staff pages: they extend the admin's layout, so without the admin
# they do not exist.
CATALOG_STAFF_PAGES = [
    "/admin/catalog",
    "/admin/catalog/products/new",
    "/admin/catalog/products/tee/edit",
    "/admin/catalog/products/tee/images",
    "/admin/catalog/categories",
    "/admin/catalog/stock",
    "/admin/catalog/csv",
    "/admin/catalog/csv/export",
]
HREF = re.compile(r'href="([^"]*)"')
MAX_PAGES = 400


def crawl(app, starts: list[str]) -> dict[str, int]:
    """Every page on this site reachable by links from ``starts``: ``{path: status}``."""
    seen: dict[str, int] = {}
    queue = list(starts)
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        response = app.get(path, status="*")
        seen[path] = response.status_int
        if "html" not in response.content_type:
            continue
        for href in HREF.findall(response.text):
            url = urlsplit(html.unescape(href))
            if url.scheme or url.netloc or not url.path.startswith("/"):
                continue  # another site, a fragment or a mailto: link
            queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return seen


def server_errors(pages: dict[str, int]) -> dict[str, int]:
    return {path: status for path, status in pages.items() if status >= 500}


@pytest.mark.parametrize("off", SWITCHED_OFF, ids="+".join)
def test_no_page_answers_5xx_without_default_plugins(make_demo_shop, admin_user, off):
    plugins = [*demo_plugins(), SIGN_IN_PLUGIN, *(f"no:{name}" for name in off)]
    shop = make_demo_shop(**{"mercato.plugins": " ".join(plugins)})

    shopper = shop.browser()
    starts = ["/", "/p/tee", "/cart", "/c/does-not-exist"]
    if "storefront" not in off:  # its checkout: an order page to crawl, for staff too
        starts.append(shopper.buy({"MUG": 1}).location)
    shopper.add("TEE")
    pages = crawl(shopper.app, starts)
    assert pages["/"] == 200 and pages["/p/tee"] == 200 and pages["/cart"] == 200
    assert server_errors(pages) == {}, f"a shopper's pages answer 5xx without {off}"

    # The admin signs in through the account pages, or the shop's own sign-in without them.
    staff = shop.browser()
    staff.app.post(
        "/sso/sign-in", {"email": admin_user.email, "csrf_token": csrf_token(staff.app)}, status=303
    )
    staff_pages = crawl(staff.app, ["/", "/admin", *CATALOG_STAFF_PAGES])
    assert server_errors(staff_pages) == {}, f"an admin's pages answer 5xx without {off}"
    if "admin" in off:
        assert {path: staff_pages[path] for path in CATALOG_STAFF_PAGES} == dict.fromkeys(
            CATALOG_STAFF_PAGES, 404
        )
    else:
        assert staff_pages["/admin"] == 200
        assert all(staff_pages[path] == 200 for path in CATALOG_STAFF_PAGES), staff_pages
        assert "/admin/staff" in staff_pages and "/admin/orders" in staff_pages
        if "storefront" not in off:
            assert any(path.startswith("/admin/orders/") for path in staff_pages)


def test_the_admin_refuses_invitations_without_the_account_pages(
    make_demo_shop, admin_user, dbsession
):
    plugins = [*demo_plugins(), SIGN_IN_PLUGIN, "no:accounts"]
    shop = make_demo_shop(**{"mercato.plugins": " ".join(plugins)})
    staff = shop.browser()
    staff.app.post(
        "/sso/sign-in", {"email": admin_user.email, "csrf_token": csrf_token(staff.app)}, status=303
    )

    page = staff.app.get("/admin/staff")
    assert "Invitations need the account pages" in page.text
    assert "invite-form" not in page.forms  # no form that could only fail
    refused = staff.app.post(
        "/admin/staff/invite",
        {"email": "new@example.com", "name": "New", "role": "staff", "csrf_token": staff.token},
        status=409,
    )
    assert "Invitations need the account pages" in refused.text
    assert dbsession.scalar(select(User).where(User.email == "new@example.com")) is None
