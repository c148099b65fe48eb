"""Where uploaded files live: a small interface, a local folder or an S3 bucket.

The catalog only calls ``save``, ``load``, ``delete`` and ``url``. ``mercato.catalog.
storage = s3`` keeps them in an S3-compatible bucket (``S3Storage``); another backend is a
class with those four methods and a factory named in ``mercato.catalog.storage =
mypackage.storage:make_storage``; the factory receives the plugin's settings. Keys are
relative paths made of ``[a-z0-9._-/]``, never ``..``, and never written twice with other
bytes (``images.new_key``), so browsers and CDNs may keep them for a year.

``mercato.catalog.media_url`` (a CDN) is where browsers fetch them. A backend whose URLs
are on another origin needs that origin in the shop's Content-Security-Policy:
``mercato.csp.img-src = https://cdn.example.com``.
"""

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from pyramid.path import DottedNameResolver

from mercato import ConfigurationError

_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")
# What the bucket (and so a CDN) says of every object: its key is never reused.
IMMUTABLE = "public, max-age=31536000, immutable"


class InvalidKey(ValueError):
    pass


class StorageUnavailable(Exception):
    """The store of files could not take one (a bucket unreachable, refusing): nothing
    was saved, and trying again later may work. Its message is for staff."""


def check_key(key: str) -> str:
    if len(key) > 200 or not _KEY.match(key) or ".." in key:
        raise InvalidKey(f"invalid storage key {key!r}")
    return key


class Storage(Protocol):
    def save(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, replacing what was there."""

    def load(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None when there are none."""

    def delete(self, key: str) -> None:
        """Forget ``key``; a key that does not exist is not an error."""

    def url(self, request, key: str) -> str:
        """Where a browser fetches ``key``."""


class LocalStorage:
    """Files under one folder, served by the catalog's media route (or by nginx), through
    a CDN whose origin is the shop when ``media_url`` is set."""

    def __init__(self, root: str | os.PathLike, media_url: str = ""):
        self.root = Path(root).resolve()
        self.media_url = media_url.rstrip("/")

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def save(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, InvalidKey):
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def url(self, request, key: str) -> str:
        return self.media_url + request.route_path("catalog_media", key=check_key(key).split("/"))

    def stored_keys(self):
        """Every key stored, for copying them elsewhere (``mercato catalog media-to-s3``)."""
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and _KEY.match(key):
                yield key


class S3Storage:
    """Objects in an S3-compatible bucket, fetched by browsers from ``media_url``.

    ``client`` is boto3's S3 client (thread-safe, made once): it finds its credentials
    itself, in the environment or the host's role. Every call is bounded (``TIMEOUTS``)
    and an upload that fails raises, before the image's row is written.
    """

    def __init__(self, client, bucket: str, media_url: str):
        from botocore.exceptions import BotoCoreError, ClientError

        self.client = client
        self.bucket = bucket
        self.media_url = media_url.rstrip("/")
        self.failures = (BotoCoreError, ClientError)

    def save(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=check_key(key),
                Body=data,
                ContentType=content_type,
                CacheControl=IMMUTABLE,
            )
        except self.failures as exc:
            raise StorageUnavailable(
                f"The image store (bucket {self.bucket}) could not be reached, so nothing was "
                "saved. Please try again in a few minutes."
            ) from exc

    def load(self, key: str) -> bytes | None:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
        except (InvalidKey, self.client.exceptions.NoSuchKey):
            return None
        with reply["Body"] as body:
            return body.read()

    def delete(self, key: str) -> None:
        # S3 answers a missing key with success too.
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def url(self, request, key: str) -> str:
        return f"{self.media_url}/{check_key(key)}"

    def stored_keys(self):
        """Every key in the bucket."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]


# Seconds: an unreachable bucket fails an upload within seconds, never hangs a worker.
TIMEOUTS = {"connect_timeout": 5, "read_timeout": 30}


def make_s3_storage(settings: dict) -> S3Storage:
    """``S3Storage`` from the catalog's ``s3_*`` and ``media_url`` settings."""
    try:  # the s3 extra: only shops that keep images in a bucket install it
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigurationError(
            "mercato.catalog.storage = s3 needs boto3: pip install 'mercato[s3]'"
        ) from None

    client = boto3.client(
        "s3",
        endpoint_url=settings["s3_endpoint_url"] or None,
        region_name=settings["s3_region"] or None,
        config=Config(**TIMEOUTS, retries={"max_attempts": 3, "mode": "standard"}),
    )
    bucket = settings["s3_bucket"]
    # Without a CDN, the bucket's own address (path style works with every provider).
    media_url = settings["media_url"] or f"{client.meta.endpoint_url}/{bucket}"
    return S3Storage(client, bucket, media_url)


def make_storage(settings: dict) -> Storage:
    """The backend named by ``storage`` in the catalog's settings, else a local folder."""
    factory = settings.get("storage")
    if factory == "s3":
        return make_s3_storage(settings)
    if factory:
        return DottedNameResolver().resolve(factory)(settings)
    return LocalStorage(settings["upload_dir"], settings.get("media_url", ""))
