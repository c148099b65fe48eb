"""Product images: content checks, re-encoding, bombs, renditions, storage, staff upload."""

import io
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import select

from mercato.testing import login
from mercato_catalog import images
from mercato_catalog.models import ProductImage
from mercato_catalog.storage import InvalidKey, LocalStorage, make_storage
from tests.catalog import storage_backends

MB = 1024 * 1024
LIMITS = {"max_bytes": 10 * MB, "max_pixels": 40_000_000}


def jpeg(size=(1200, 800), colour=(200, 80, 40), exif=None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, colour)
    image.save(out, format="JPEG", quality=90, **({"exif": exif} if exif else {}))
    return out.getvalue()


def png(size=(64, 64), mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (0, 128, 255, 100) if mode == "RGBA" else 0).save(out, format="PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` pixels: a decompression bomb
    would inflate to that; we must refuse it from the header alone."""
    data = bytearray(png((1, 1), mode="L"))
    ihdr = 8  # after the signature: length (4), b"IHDR" (4), then width and height
    struct.pack_into(">II", data, ihdr + 8, width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 8 + 13]))
    struct.pack_into(">I", data, ihdr + 8 + 13, crc)
    return bytes(data)


def exif_with_gps_and_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010E] = "secret description"  # ImageDescription
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0)}  # GPS IFD
    return exif.tobytes()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_renditions_are_webp_in_three_sizes_never_enlarged():
    processed = images.process(jpeg((3000, 2000)), **LIMITS)
    assert (processed.width, processed.height, processed.extension) == (3000, 2000, "webp")
    sizes = {name: decode(blob).size for name, blob in processed.renditions.items()}
    assert sizes == {"thumb": (320, 213), "medium": (800, 533), "large": (1600, 1067)}
    assert all(decode(b).format == "WEBP" for b in processed.renditions.values())

    small = images.process(jpeg((100, 50)), **LIMITS)
    assert {decode(b).size for b in small.renditions.values()} == {(100, 50)}


def test_metadata_is_stripped_and_orientation_applied():
    original = jpeg((400, 200), exif=exif_with_gps_and_orientation(6))
    assert b"secret description" in original

    processed = images.process(original, **LIMITS)

    # Orientation 6 means "rotate 90°": the stored image is upright, 200 wide, 400 high.
    assert (processed.width, processed.height) == (200, 400)
    for blob in processed.renditions.values():
        assert b"secret description" not in blob
        assert not decode(blob).getexif()


def test_transparency_survives():
    processed = images.process(png(mode="RGBA"), **LIMITS)
    assert decode(processed.renditions["thumb"]).mode == "RGBA"


def test_an_animated_gif_keeps_its_first_frame():
    frames = [Image.new("P", (40, 30), colour) for colour in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    processed = images.process(out.getvalue(), **LIMITS)
    assert decode(processed.renditions["thumb"]).size == (40, 30)


@pytest.mark.parametrize(
    "data",
    [
        b"<html><script>alert(1)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"%PDF-1.7\n%...",
        b"GIF89a" + b"\x00" * 4,
        b"\xff\xd8\xff\xe0" + b"\x00" * 20,
    ],
    ids=["html", "svg", "pdf", "gif-header-only", "jpeg-header-only"],
)
def test_what_is_not_an_image_is_refused_whatever_its_name(data):
    with pytest.raises(images.ImageRejected) as refused:
        images.process(data, **LIMITS)
    assert str(refused.value) in (
        "The file is not a JPEG, PNG, WebP or GIF image.",
        "The image file is damaged or incomplete.",
    )


def test_a_truncated_image_is_refused():
    with pytest.raises(images.ImageRejected, match="damaged or incomplete"):
        images.process(jpeg()[:2000], **LIMITS)


def test_formats_we_do_not_accept_are_refused_even_when_pillow_reads_them():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="BMP")
    with pytest.raises(images.ImageRejected, match="not a JPEG, PNG, WebP or GIF"):
        images.process(out.getvalue(), **LIMITS)


def test_decompression_bombs_are_refused_from_the_header():
    bomb = png_claiming(20_000, 10_000)  # 200 megapixels in a few dozen bytes
    assert len(bomb) < 100
    with pytest.raises(images.ImageRejected, match="far too many pixels|megapixels"):
        images.process(bomb, **LIMITS)
    with pytest.raises(images.ImageRejected, match="at most 40 megapixels"):
        images.process(png_claiming(8000, 6000), **LIMITS)


def test_empty_and_oversized_files_are_refused():
    with pytest.raises(images.ImageRejected, match="empty"):
        images.process(b"", **LIMITS)
    with pytest.raises(images.ImageRejected, match="larger than 1 MB"):
        images.process(b"x" * (MB + 1), max_bytes=MB, max_pixels=1000)


def test_local_storage_saves_loads_and_deletes(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.save("products/1/abc/thumb.webp", b"data", "image/webp")
    assert storage.load("products/1/abc/thumb.webp") == b"data"
    storage.delete("products/1/abc/thumb.webp")
    storage.delete("products/1/abc/thumb.webp")
    assert storage.load("products/1/abc/thumb.webp") is None


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../b", "Upper", "a//b", "", "a/"])
def test_storage_keys_cannot_escape_the_folder(tmp_path, key):
    storage = LocalStorage(tmp_path)
    with pytest.raises(InvalidKey):
        storage.save(key, b"x", "text/plain")
    assert storage.load(key) is None


def test_another_backend_is_named_in_settings():
    storage = make_storage(
        {"storage": "tests.catalog.storage_backends:make_bucket_storage", "upload_dir": "b1"}
    )
    storage.save("products/1/x/thumb.webp", b"data", "image/webp")
    assert storage_backends.BUCKETS["b1"]["products/1/x/thumb.webp"] == (b"data", "image/webp")


# ---------------------------------------------------------------------------
# Staff upload pages
# ---------------------------------------------------------------------------


@pytest.fixture
def jacket(catalog):
    return catalog.product("Waxed Jacket", sku="WJ")


@pytest.fixture
def staff_app(app, staff_user):
    login(app, staff_user.email)
    return app


def upload(testapp, slug, data, filename="photo.jpg", alt="", status=303):
    page = testapp.get(f"/admin/catalog/products/{slug}/images")
    form = page.forms["upload-form"]
    form["image"] = (filename, data)
    form["alt"] = alt
    return form.submit(status=status)


def test_guests_are_sent_to_log_in_and_customers_refused(app, jacket, customer_user):
    response = app.get("/admin/catalog/products/waxed-jacket/images", status=303)
    assert "/login" in response.location
    login(app, customer_user.email)
    app.get("/admin/catalog/products/waxed-jacket/images", status=403)


def test_staff_upload_shows_on_the_product_page(staff_app, jacket, dbsession, upload_dir):
    response = upload(staff_app, "waxed-jacket", jpeg(exif=exif_with_gps_and_orientation(1)),
                      alt="The jacket on a hook")  # fmt: skip
    assert response.location.endswith("/admin/catalog/products/waxed-jacket/images")
    assert "Image added." in response.follow().text

    image = dbsession.execute(select(ProductImage)).scalar_one()
    assert (image.width, image.height, image.alt) == (1200, 800, "The jacket on a hook")
    stored = sorted(p.relative_to(upload_dir).as_posix() for p in upload_dir.rglob("*.webp"))
    assert stored == [f"{image.key}/{size}.webp" for size in ("large", "medium", "thumb")]

    page = staff_app.get("/p/waxed-jacket")
    img = page.html.select_one(".gallery img")
    assert img["alt"] == "The jacket on a hook"
    served = staff_app.get(img["src"])
    assert served.content_type == "image/webp"
    assert "immutable" in served.headers["Cache-Control"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert b"secret description" not in served.body
    listing = staff_app.get("/api/products").json["items"][0]
    assert listing["image"]["urls"]["thumb"].endswith(f"{image.key}/thumb.webp")


def test_a_file_that_is_not_an_image_is_refused_with_the_reason(
    staff_app, jacket, dbsession, upload_dir
):
    response = upload(staff_app, "waxed-jacket", b"<?php system($_GET['c']); ?>",
                      filename="innocent.jpg", status=400)  # fmt: skip
    assert "The file is not a JPEG, PNG, WebP or GIF image." in response.text
    assert dbsession.execute(select(ProductImage)).first() is None
    assert not upload_dir.exists() or not any(upload_dir.rglob("*.webp"))


def test_a_bomb_is_refused(staff_app, jacket):
    response = upload(staff_app, "waxed-jacket", png_claiming(30_000, 30_000), status=400)
    assert "too many pixels" in response.text


def test_an_upload_without_a_file_is_refused(staff_app, jacket):
    page = staff_app.get("/admin/catalog/products/waxed-jacket/images")
    token = page.forms["upload-form"]["csrf_token"].value
    response = staff_app.post(
        "/admin/catalog/products/waxed-jacket/images", {"csrf_token": token}, status=400
    )
    assert "Choose an image file to upload." in response.text


def test_an_upload_over_the_size_cap_is_refused_before_reading(
    make_test_app, app_settings, jacket, staff_user
):
    settings = {**app_settings, "mercato.catalog.upload_max_bytes": "2048"}
    plugins = settings.pop("mercato.plugins").split()
    app = make_test_app(plugins=plugins, **settings)
    login(app, staff_user.email)
    response = upload(app, "waxed-jacket", b"x" * 200_000, status=413)
    assert "larger than 2 KB" in response.text


def test_an_upload_without_the_csrf_token_is_refused(staff_app, jacket, dbsession):
    staff_app.post(
        "/admin/catalog/products/waxed-jacket/images",
        upload_files=[("image", "a.jpg", jpeg())],
        status=400,
    )
    assert dbsession.execute(select(ProductImage)).first() is None


def test_upload_for_an_unknown_product_is_not_found(staff_app):
    staff_app.get("/admin/catalog/products/nope/images", status=404)


def test_removing_an_image_deletes_its_files_after_the_commit(
    staff_app, jacket, dbsession, upload_dir
):
    page = upload(staff_app, "waxed-jacket", jpeg()).follow()
    assert len(list(upload_dir.rglob("*.webp"))) == 3
    image_id = dbsession.execute(select(ProductImage.id)).scalar_one()
    page.forms[f"remove-{image_id}"].submit(status=303)
    assert dbsession.execute(select(ProductImage)).first() is None
    assert list(upload_dir.rglob("*.webp")) == []


def test_removing_an_unknown_image_is_not_found(staff_app, jacket):
    page = staff_app.get("/admin/catalog/products/waxed-jacket/images")
    token = page.forms["upload-form"]["csrf_token"].value
    staff_app.post("/admin/catalog/images/999999/delete", {"csrf_token": token}, status=404)
    staff_app.post("/admin/catalog/images/abc/delete", {"csrf_token": token}, status=404)


def test_pages_use_the_configured_backend(make_test_app, app_settings, jacket, staff_user):
    settings = {
        **app_settings,
        "mercato.catalog.storage": "tests.catalog.storage_backends:make_bucket_storage",
        "mercato.catalog.upload_dir": "bucket-for-pages",
    }
    plugins = settings.pop("mercato.plugins").split()
    app = make_test_app(plugins=plugins, **settings)
    login(app, staff_user.email)
    upload(app, "waxed-jacket", jpeg())
    src = app.get("/p/waxed-jacket").html.select_one(".gallery img")["src"]
    assert src.startswith("https://cdn.example.test/products/")
    assert len(storage_backends.BUCKETS["bucket-for-pages"]) == 3


@pytest.mark.parametrize("size", [(3000, 2000), (1000, 1500), (801, 333), (333, 801), (7, 5000)])
def test_pages_know_each_renditions_size_without_opening_it(size):
    """``rendition_size`` is what ``srcset`` and ``width``/``height`` are made of."""
    processed = images.process(jpeg(size), **LIMITS)
    for name, edge in images.SIZES.items():
        made = decode(processed.renditions[name]).size
        assert images.rendition_size(*size, edge) == made, name
