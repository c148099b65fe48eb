"""Catalog images in an S3-compatible bucket (moto's server, through boto3), shown to
shoppers from a CDN base URL (``mercato.catalog.media_url``) with year-long caching.

The "CDN" is the S3 server under another host name (``localhost`` rather than the
``127.0.0.1`` the app uploads to): what a page links to is the configured base URL, and a
browser fetching it gets the bytes and the headers the bucket keeps.
"""

import io
import json
import socket
import urllib.request

import pytest
from PIL import Image
from sqlalchemy import select

from mercato import make_app
from mercato.exceptions import ConfigurationError
from mercato.ops.cli import main
from mercato.testing import base_settings
from mercato_catalog import images, sample
from mercato_catalog.models import ProductImage
from mercato_catalog.storage import IMMUTABLE, InvalidKey, LocalStorage, make_storage

from .conftest import bucket_keys

YEAR = "public, max-age=31536000, immutable"


def jpeg(colour=(200, 80, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 800), colour).save(out, format="JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def cdn_url(s3_server, s3_bucket) -> str:
    client, bucket = s3_bucket
    # What docs/deploy.md asks of the bucket: anyone may read an object (the CDN fetches
    # it without signing); only the shop's credentials write.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return f"{s3_server.replace('127.0.0.1', 'localhost')}/{bucket}"


@pytest.fixture
def s3_settings(s3_server, s3_bucket, cdn_url, tmp_path) -> dict:
    _client, bucket = s3_bucket
    return {
        "mercato.catalog.storage": "s3",
        "mercato.catalog.s3_bucket": bucket,
        "mercato.catalog.s3_endpoint_url": s3_server,
        "mercato.catalog.media_url": cdn_url,
        # Nothing may land here once the bucket is the storage.
        "mercato.catalog.upload_dir": str(tmp_path / "uploads"),
        "mercato.csp.img-src": cdn_url.rsplit("/", 1)[0],
    }


@pytest.fixture
def staff(make_demo_shop, s3_settings, admin_user):
    shop = make_demo_shop(**s3_settings)
    browser = shop.browser()
    browser.log_in(admin_user.email, admin_user.password)
    return browser


def upload(browser, slug: str, data: bytes):
    form = browser.app.get(f"/admin/catalog/products/{slug}/images").forms["upload-form"]
    form["image"] = ("photo.jpg", data)
    form["alt"] = "A photo"
    return form.submit(status=303)


def fetch(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        return response.read(), response.headers


def test_an_admin_upload_is_kept_in_the_bucket_and_shown_from_the_cdn(
    staff, s3_bucket, cdn_url, tmp_path, dbsession
):
    client, bucket = s3_bucket
    upload(staff, "tee", jpeg())

    image = dbsession.scalars(select(ProductImage)).one()
    renditions = [f"{image.key}/{size}.webp" for size in ("large", "medium", "thumb")]
    assert bucket_keys(client, bucket) == renditions
    head = client.head_object(Bucket=bucket, Key=renditions[0])
    assert (head["ContentType"], head["CacheControl"]) == ("image/webp", YEAR)
    assert not (tmp_path / "uploads").exists(), "nothing written to the local folder"

    page = staff.app.get("/p/tee")
    src = page.html.select_one(".gallery img")["src"]
    assert src == f"{cdn_url}/{image.key}/medium.webp"
    assert (
        f"img-src 'self' data: {cdn_url.rsplit('/', 1)[0]}"
        in page.headers["Content-Security-Policy"]
    )
    body, headers = fetch(src)
    assert body == client.get_object(Bucket=bucket, Key=f"{image.key}/medium.webp")["Body"].read()
    assert Image.open(io.BytesIO(body)).format == "WEBP"
    assert (headers["Content-Type"], headers["Cache-Control"]) == ("image/webp", YEAR)


def test_deleting_an_image_or_its_product_removes_its_files_from_the_bucket(staff, s3_bucket):
    client, bucket = s3_bucket
    upload(staff, "tee", jpeg())
    upload(staff, "tee", jpeg((20, 90, 200)))
    assert len(bucket_keys(client, bucket)) == 6

    first = staff.app.get("/admin/catalog/products/tee/images").forms["remove-1"]
    first.submit(status=303)
    assert len(bucket_keys(client, bucket)) == 3

    staff.app.get("/admin/catalog/products/tee/edit").forms["delete-form"].submit(status=303)
    assert bucket_keys(client, bucket) == []


def test_sample_pictures_are_drawn_into_the_bucket(db_engine, dbsession, s3_settings, s3_bucket):
    client, bucket = s3_bucket
    catalog = {k.removeprefix("mercato.catalog."): v for k, v in s3_settings.items()}
    storage = make_storage({**catalog, "s3_region": ""})

    made = sample.bulk_sample(db_engine, 4, "EUR", lambda done, total: None, storage=storage)

    assert made == 4
    rows = dbsession.scalars(select(ProductImage)).all()
    assert len(rows) == 8, "a front and a close-up each"
    expected = [f"{row.key}/{size}.webp" for row in rows for size in images.SIZES]
    assert bucket_keys(client, bucket) == sorted(expected)


def test_media_to_s3_copies_the_local_uploads_once(
    tmp_path, migrated_database, redis_url, s3_server, s3_bucket, capsys
):
    client, bucket = s3_bucket
    uploads = tmp_path / "uploads"
    local = LocalStorage(uploads)
    local.save("products/1/aa/thumb.webp", b"thumb", "image/webp")
    local.save("products/1/aa/large.webp", b"large", "image/webp")
    local.save("products/2/bb/thumb.webp", b"other", "image/webp")
    (uploads / "products" / ".upload-half-written").write_bytes(b"x")
    config = tmp_path / "shop.ini"
    config.write_text(
        "[app:main]\nuse = egg:mercato\n"
        f"sqlalchemy.url = {migrated_database}\nredis.url = {redis_url}\n"
        "mercato.secret = test\nmercato.plugins = catalog\n"
        f"mercato.catalog.upload_dir = {uploads}\nmercato.catalog.storage = s3\n"
        f"mercato.catalog.s3_bucket = {bucket}\nmercato.catalog.s3_endpoint_url = {s3_server}\n"
    )
    client.put_object(Bucket=bucket, Key="products/2/bb/thumb.webp", Body=b"other")

    assert main(["-c", str(config), "catalog", "media-to-s3"]) == 0

    assert bucket_keys(client, bucket) == [
        "products/1/aa/large.webp",
        "products/1/aa/thumb.webp",
        "products/2/bb/thumb.webp",
    ]
    head = client.head_object(Bucket=bucket, Key="products/1/aa/thumb.webp")
    assert (head["ContentType"], head["CacheControl"]) == ("image/webp", IMMUTABLE)
    err = capsys.readouterr().err
    assert "catalog media-to-s3: 2/2 (100%" in err
    assert "copied 2 files" in err and "1 were there already" in err

    assert main(["-c", str(config), "catalog", "media-to-s3"]) == 0
    assert "copied 0 files" in capsys.readouterr().err


def test_the_s3_backend_reads_misses_as_none_and_refuses_bad_keys(s3_settings):
    catalog = {k.removeprefix("mercato.catalog."): v for k, v in s3_settings.items()}
    storage = make_storage({**catalog, "s3_region": ""})
    storage.save("products/9/cc/thumb.webp", b"bytes", "image/webp")
    assert storage.load("products/9/cc/thumb.webp") == b"bytes"
    storage.delete("products/9/cc/thumb.webp")
    storage.delete("products/9/cc/thumb.webp")  # already gone: not an error
    assert storage.load("products/9/cc/thumb.webp") is None
    assert storage.load("../secrets") is None
    with pytest.raises(InvalidKey):
        storage.save("../secrets", b"x", "text/plain")


def test_a_bucket_storage_without_a_bucket_is_refused_at_startup(migrated_database, redis_url):
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": "catalog",
            "mercato.catalog.storage": "s3",
        }
    )
    with pytest.raises(ConfigurationError, match="s3_bucket"):
        make_app(settings, environ={})


def test_a_cdn_in_front_of_the_shops_own_media_route(make_demo_shop, admin_user, tmp_path):
    """Without a bucket, ``media_url`` still puts a CDN in front: it pulls ``/media``
    from the shop, which answers with the same year-long caching."""
    shop = make_demo_shop(
        **{
            "mercato.catalog.upload_dir": str(tmp_path / "uploads"),
            "mercato.catalog.media_url": "https://cdn.example.com/",
        }
    )
    staff = shop.browser()
    staff.log_in(admin_user.email, admin_user.password)
    upload(staff, "tee", jpeg())

    src = staff.app.get("/p/tee").html.select_one(".gallery img")["src"]
    assert src.startswith("https://cdn.example.com/media/catalog/products/")
    origin = staff.app.get(src.removeprefix("https://cdn.example.com"))
    assert (origin.content_type, origin.headers["Cache-Control"]) == ("image/webp", YEAR)


def test_an_unreachable_bucket_refuses_the_upload_with_a_503_and_saves_nothing(
    make_demo_shop, s3_settings, admin_user, dbsession
):
    with socket.socket() as closed:  # a port nothing listens on: the bucket is down
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}"
    shop = make_demo_shop(**{**s3_settings, "mercato.catalog.s3_endpoint_url": down})
    browser = shop.browser()
    browser.log_in(admin_user.email, admin_user.password)
    form = browser.app.get("/admin/catalog/products/tee/images").forms["upload-form"]
    form["image"] = ("photo.jpg", jpeg())

    page = form.submit(status=503)

    assert "could not be reached, so nothing was saved" in page.text
    assert "Traceback" not in page.text and "botocore" not in page.text
    assert dbsession.scalars(select(ProductImage)).all() == []
