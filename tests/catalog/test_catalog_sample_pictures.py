"""Sample pictures: every demo product gets its own, drawn at sample time, stored and
sized like an upload, the same bytes every time; the bulk sample gets one each."""

import hashlib
import io
import time

import pytest
import transaction
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from zope.sqlalchemy import register

from mercato_catalog import images, pictures, sample
from mercato_catalog.models import Product, ProductImage
from mercato_catalog.storage import LocalStorage


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def gallery(session, storage) -> dict:
    """Every product's pictures by slug: (alt, digest of each rendition's bytes)."""
    products = session.scalars(select(Product).options(selectinload(Product.images))).all()
    return {
        product.slug: [
            (
                image.alt,
                {
                    size: hashlib.sha256(storage.load(image.rendition_key(size))).hexdigest()
                    for size in images.SIZES
                },
            )
            for image in product.images
        ]
        for product in products
    }


def make_demo(session, folder, said=None) -> tuple[LocalStorage, float]:
    storage = LocalStorage(folder)
    started = time.perf_counter()
    assert sample.demo_catalog(session, "EUR", (said if said is not None else []).append, storage)
    return storage, time.perf_counter() - started


def test_every_demo_product_has_two_or_more_pictures_in_every_size(dbsession, tmp_path):
    said = []
    storage, seconds = make_demo(dbsession, tmp_path / "a", said)
    print(f"demo catalog with pictures: {seconds:.2f} s")  # seen with -s; see the report

    products = dbsession.scalars(select(Product).options(selectinload(Product.images))).all()
    assert len(products) == len(sample.DEMO_PRODUCTS)
    for product in products:
        colours = len(product.variants) if "colour" in product.variants[0].options else 1
        assert len(product.images) >= max(2, colours), product.slug
        assert [image.position for image in product.images] == list(range(len(product.images)))
        assert product.images[0].alt.startswith(product.name)
        for image in product.images:
            assert (image.width, image.height, image.extension) == (800, 800, "webp")
            assert image.key.startswith(f"products/{product.id}/")
            thumb, medium, large = (storage.load(image.rendition_key(s)) for s in images.SIZES)
            assert decode(thumb).size == (320, 320)
            assert decode(medium).size == (800, 800)
            assert large == medium  # never enlarged: the same rendition
            assert decode(medium).format == "WEBP"
    colours = {image.alt for p in products if p.slug == "pocket-tee" for image in p.images}
    assert {"Pocket Tee in White, front", "Pocket Tee in Black, front"} <= colours
    assert "Pocket Tee in White, back" in colours
    assert said[1].startswith("catalog: drawing ")
    assert said[-1].startswith("catalog: pictures ") and said[-1].endswith(
        f"/{dbsession.scalar(select(func.count()).select_from(ProductImage))}"
    )


def test_the_demo_pictures_are_the_same_bytes_every_time(dbsession, tmp_path):
    first_storage, _ = make_demo(dbsession, tmp_path / "first")
    first = gallery(dbsession, first_storage)
    first_keys = set(dbsession.scalars(select(ProductImage.key)))
    dbsession.rollback()  # nothing was committed: the products are gone, ids move on

    second_storage, _ = make_demo(dbsession, tmp_path / "second")

    assert gallery(dbsession, second_storage) == first
    # Keys are made of the product and its picture's content, so new products, new keys.
    assert first_keys.isdisjoint(dbsession.scalars(select(ProductImage.key)))
    # Products are told apart: a tee's pictures differ from a sweater's, and its views
    # from each other.
    digests = [d["medium"] for pictures_ in first.values() for _alt, d in pictures_]
    assert len(set(digests)) == len(digests)


def test_without_an_image_storage_the_demo_has_no_pictures(dbsession):
    said = []
    assert sample.demo_catalog(dbsession, "EUR", said.append)
    assert dbsession.scalar(select(func.count()).select_from(ProductImage)) == 0
    assert "no pictures" in said[-1]


@pytest.mark.parametrize(
    ("name", "path", "drawing"),
    [
        ("Pencil Set", "stationery", pictures.pencils),
        ("Brass Fountain Pen", "stationery", pictures.pen),
        ("Roll-top Dry Bag", "outdoors/bags", pictures.dry_bag),
        ("Cotton Waffle Bath Towel", "home/textiles", pictures.textile),
        ("Long Sleeve Waffle Top", "clothing/t-shirts", pictures.long_tee),
        ("Heritage Travel Thing", "clothing/t-shirts", pictures.tee),  # by its category
        ("Mystery", "elsewhere", pictures.bottle),
    ],
)
def test_a_product_is_drawn_as_what_its_name_says(name, path, drawing):
    assert pictures.kind_of(name, path)[0] is drawing


def test_the_bulk_sample_gives_each_product_a_front_and_a_close_up(db_engine, dbsession, tmp_path):
    storage = LocalStorage(tmp_path)
    seen = []
    made = sample.bulk_sample(
        db_engine, 60, "EUR", lambda done, total: None, storage=storage,
        picture_progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip

    assert made == 60
    rows = dbsession.execute(
        select(
            ProductImage.product_id, ProductImage.key, ProductImage.width, ProductImage.alt,
            ProductImage.position,
        ).order_by(ProductImage.product_id, ProductImage.position)
    ).all()  # fmt: skip
    assert len(rows) == 120 and len({row.product_id for row in rows}) == 60
    assert [row.position for row in rows[:2]] == [0, 1]
    assert rows[1].alt == f"{rows[0].alt}, close-up"
    assert len({row.key for row in rows}) == 120, "a key never names two pictures"
    assert all(row.width == 400 and row.alt for row in rows)
    for row in rows[:5]:
        assert decode(storage.load(f"{row.key}/thumb.webp")).size == (320, 320)
        assert decode(storage.load(f"{row.key}/medium.webp")).size == (400, 400)
    assert seen[-1] == (60, 60)


def test_the_demo_data_hook_stores_pictures_the_pages_show(app, upload_dir):
    """What ``mercato demo`` does on its first start, then what a shopper sees."""
    registry = app.app.registry
    with transaction.manager:
        session = registry.dbsession_factory()
        register(session, transaction_manager=transaction.manager)
        registry.hooks.mercato_sample_data(
            dbsession=session, settings=registry.settings, progress=lambda _: None
        )

    page = app.get("/p/pocket-tee")
    main = page.html.select_one("#gallery-main")
    assert main["alt"] == "Pocket Tee in White, front"
    picture = app.get(main["src"])
    assert picture.content_type == "image/webp"
    assert decode(picture.body).size == (800, 800)
    assert len(page.html.select(".thumbs img")) == 5  # three colours, a back, a close-up
    assert any(upload_dir.rglob("thumb.webp"))
    cards = app.get("/c/clothing").html.select(".product-card img")
    assert len(cards) == len(app.get("/c/clothing").html.select(".product-card"))
