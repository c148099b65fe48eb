"""Where uploaded files live: a small interface, a local-folder backend.

The catalog only calls ``save``, ``load``, ``delete`` and ``url``. Another backend (an
S3-compatible bucket, say) is a class with those four methods and a factory named in
``mercato.catalog.storage = mypackage.storage:make_storage``; the factory receives the
plugin's settings. Keys are relative paths made of ``[a-z0-9._-/]``, never ``..``. A
backend whose URLs are on another origin (a CDN) needs that origin in the shop's
Content-Security-Policy: ``mercato.csp.img-src = https://cdn.example.com``.
"""

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from pyramid.path import DottedNameResolver

_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


class InvalidKey(ValueError):
    pass


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
    """Files under one folder, served by the catalog's media route (or by nginx)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

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
        return request.route_path("catalog_media", key=check_key(key).split("/"))


def make_storage(settings: dict) -> Storage:
    """The backend named by ``storage`` in the catalog's settings, else a local folder."""
    factory = settings.get("storage")
    if factory:
        return DottedNameResolver().resolve(factory)(settings)
    return LocalStorage(settings["upload_dir"])
