"""A forged Host header cannot poison the page cache: pages carry absolute links
(canonical, Open Graph, JSON-LD) built on the request's host when ``mercato.public_url``
is unset, so every host is cached on its own."""

import pytest


@pytest.fixture
def mug(catalog):
    return catalog.product(
        "Blue Mug", variants=[{"sku": "MUG", "name": "", "price": 1250, "stock": 5}]
    )


def canonical(page) -> str:
    [link] = page.html.head.select('link[rel="canonical"]')
    return link["href"]


def test_a_page_asked_with_a_forged_host_is_not_served_to_anyone_else(app, mug):
    forged = app.get("/p/blue-mug", headers={"Host": "evil.example"})
    assert canonical(forged) == "http://evil.example/p/blue-mug"

    honest = app.get("/p/blue-mug")

    assert canonical(honest) == "http://localhost/p/blue-mug"
    assert "evil.example" not in honest.text


def test_with_a_public_url_every_host_gets_the_shops_address(make_test_app, app_settings, mug):
    app = make_test_app(**{**app_settings, "mercato.public_url": "https://shop.example"})
    app.get("/p/blue-mug", headers={"Host": "evil.example"})

    page = app.get("/p/blue-mug")

    assert canonical(page) == "https://shop.example/p/blue-mug"
    assert "evil.example" not in page.text
