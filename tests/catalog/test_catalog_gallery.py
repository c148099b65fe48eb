"""Pictures on the storefront: a gallery on the product page that works without
JavaScript, and responsive images (srcset, sizes, width and height, lazy below the fold)
on every page that shows products."""

import io

import pytest
from PIL import Image

from mercato_catalog import services
from mercato_catalog.storage import LocalStorage

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def jpeg(size, colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def add_pictures(dbsession, upload_dir):
    """``add_pictures(product, sizes)``: uploads made through the staff pages' path."""
    storage = LocalStorage(upload_dir)

    def add(product, sizes):
        product = dbsession.merge(product)
        for number, size in enumerate(sizes, start=1):
            data = jpeg(size, (40 * number, 90, 140))
            services.add_image(
                dbsession, storage, product, data, f"{product.name}, view {number}", **LIMITS
            )
        dbsession.commit()

    return add


@pytest.fixture
def jacket(catalog, add_pictures):
    jackets = catalog.category("clothing/jackets", "Jackets")
    product = catalog.product("Waxed Jacket", 18900, sku="WJ", category=jackets)
    # Landscape, portrait, and one smaller than the largest rendition.
    add_pictures(product, [(1800, 1200), (1000, 1500), (640, 640)])
    return product


def main_picture(page):
    return page.html.select_one(".gallery #gallery-main")


def srcset(img) -> dict[str, str]:
    """{"320w": url, …}"""
    return {
        width: url for url, width in (candidate.split() for candidate in img["srcset"].split(", "))
    }


def test_the_main_picture_is_responsive_and_fetched_first(app, jacket):
    img = main_picture(app.get("/p/waxed-jacket"))

    assert img["alt"] == "Waxed Jacket, view 1"
    # Every rendition with its true width: thumb 320, medium 800, large 1600 of 1800.
    candidates = srcset(img)
    assert list(candidates) == ["320w", "800w", "1600w"]
    assert [url.rsplit("/", 1)[1] for url in candidates.values()] == [
        "thumb.webp",
        "medium.webp",
        "large.webp",
    ]
    assert img["src"] == candidates["800w"]
    assert (img["width"], img["height"]) == ("800", "533")  # the medium rendition's
    assert img["sizes"].endswith("100vw")
    assert img["fetchpriority"] == "high" and not img.has_attr("loading")
    assert img.parent.name == "a" and img.parent["href"] == candidates["1600w"]


def test_renditions_smaller_than_an_edge_are_listed_once(app, jacket):
    img = main_picture(app.get("/p/waxed-jacket", {"image": "3"}))
    assert list(srcset(img)) == ["320w", "640w"]  # 640 px: medium and large are one
    assert (img["width"], img["height"]) == ("640", "640")


def test_thumbnails_link_to_the_page_with_that_picture_large(app, jacket):
    page = app.get("/p/waxed-jacket")
    links = page.html.select(".thumbs a")
    assert [a["href"] for a in links] == [
        "/p/waxed-jacket",
        "/p/waxed-jacket?image=2",
        "/p/waxed-jacket?image=3",
    ]
    assert [a.get("aria-current") for a in links] == ["true", None, None]
    for a in links:
        thumb = a.img
        assert thumb["loading"] == "lazy" and not thumb.has_attr("fetchpriority")
        assert thumb["width"] and thumb["height"] and thumb["srcset"] and thumb["alt"]
        # What catalog.js needs to show it large in place.
        assert a["data-src"].endswith("/medium.webp") and a["data-srcset"] and a["data-alt"]
    assert (links[1]["data-width"], links[1]["data-height"]) == ("533", "800")

    second = app.get(links[1]["href"])  # what a browser without JavaScript does

    img = main_picture(second)
    assert img["alt"] == "Waxed Jacket, view 2"
    assert (img["width"], img["height"]) == ("533", "800")
    assert [a.get("aria-current") for a in second.html.select(".thumbs a")] == [None, "true", None]


def test_the_chosen_variant_is_kept_in_the_thumbnail_links(app, catalog, add_pictures):
    shirt = catalog.product(
        "Linen Shirt",
        variants=[{"sku": "LS-S", "name": "S"}, {"sku": "LS-M", "name": "M"}],
    )
    add_pictures(shirt, [(800, 800), (800, 800)])
    page = app.get("/p/linen-shirt", {"variant": "LS-M", "image": "2"})
    assert page.html.select(".thumbs a")[0]["href"] == "/p/linen-shirt?variant=LS-M"
    assert page.html.select(".thumbs a")[1]["href"] == "/p/linen-shirt?variant=LS-M&image=2"
    assert page.html.find("option", selected=True)["value"] == "LS-M"


@pytest.mark.parametrize("odd", ["0", "4", "99", "abc", "-1", "1" * 500, "２", "1e3"])
def test_an_odd_picture_number_shows_the_first(app, jacket, odd):
    page = app.get("/p/waxed-jacket", {"image": odd})
    assert main_picture(page)["alt"] == "Waxed Jacket, view 1"


def test_a_nul_in_the_address_is_refused_plainly(app, jacket):
    page = app.get("/p/waxed-jacket", {"image": "\x00"}, status=400)
    assert "Traceback" not in page.text


def test_a_product_without_pictures_has_its_placeholder(app, catalog):
    catalog.product("Plain Thing", 500)
    page = app.get("/p/plain-thing")
    assert page.html.select_one(".gallery .placeholder") is not None
    assert page.html.select(".gallery img") == []


@pytest.fixture
def rack(catalog, add_pictures):
    """Six products with pictures, one without, in one category."""
    coats = catalog.category("coats", "Coats")
    for number in range(6):
        product = catalog.product(f"Coat {number}", 5000 + number, category=coats)
        add_pictures(product, [(1200, 1200)])
    catalog.product("Bare Coat", 4000, category=coats)


@pytest.mark.parametrize("path", ["/", "/c/coats", "/search?q=coat"])
def test_listings_have_responsive_pictures_lazy_below_the_first_row(app, rack, path):
    page = app.get(path)
    cards = page.html.select(".product-grid .product-card")
    assert len(cards) == 7
    pictures = [card.img for card in cards if card.img is not None]
    assert len(pictures) == 6  # the bare coat shows its placeholder
    for img in pictures:
        assert list(srcset(img)) == ["320w", "800w", "1200w"]
        assert img["src"].endswith("/thumb.webp")
        assert (img["width"], img["height"]) == ("320", "320")
        assert "50vw" in img["sizes"]
        assert img["alt"]
    # The newest, first, has no picture: the first picture is fetched first.
    assert cards[0].img is None
    first, *others = pictures
    assert first["fetchpriority"] == "high" and not first.has_attr("loading")
    assert [img.get("loading") for img in others] == [None, None, "lazy", "lazy", "lazy"]
    assert not any(img.has_attr("fetchpriority") for img in others)
