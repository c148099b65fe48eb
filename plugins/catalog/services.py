"""Catalog operations shared by the CLI, the staff pages and the sample data."""

import re
import unicodedata

from sqlalchemy import func, select

from . import images
from .models import Category, ProductImage

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CATEGORY_PATH = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)*$")


def slugify(text: str, max_length: int = 120) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "item"


def ensure_category_path(session, path: str, names: dict[str, str] | None = None) -> Category:
    """The category at ``path`` ("home/kitchen"), creating missing ancestors.

    A new category is named from ``names[slug]`` or, failing that, from its slug.
    """
    names = names or {}
    parent = None
    walked = []
    for slug in path.split("/"):
        walked.append(slug)
        current = "/".join(walked)
        category = session.execute(
            select(Category).where(Category.path == current)
        ).scalar_one_or_none()
        if category is None:
            category = Category(
                slug=slug,
                path=current,
                name=names.get(slug) or slug.replace("-", " ").capitalize(),
                parent=parent,
            )
            session.add(category)
            session.flush()
        parent = category
    return parent


def add_image(session, storage, product, data: bytes, alt: str, max_bytes: int, max_pixels: int):
    """Check, re-encode and store an uploaded image of ``product``; return its row.

    Raises ``images.ImageRejected`` (with a reason for the uploader) before anything is
    stored.
    """
    processed = images.process(data, max_bytes=max_bytes, max_pixels=max_pixels)
    position = session.execute(
        select(func.coalesce(func.max(ProductImage.position) + 1, 0)).where(
            ProductImage.product_id == product.id
        )
    ).scalar()
    image = store_image(
        storage, product.id, processed, alt.strip()[:300] or product.name, position,
        images.new_key(product.id),
    )  # fmt: skip
    session.add(image)
    session.flush()
    return image


def store_image(storage, product_id: int, processed, alt: str, position: int, key: str):
    """Write the renditions of ``processed`` under ``key`` and return the (unsaved) row
    that points at them: uploads and sample pictures alike.

    The renditions are written before the row exists: if the transaction then aborts,
    unreferenced files remain, never a row without its files.
    """
    for size, blob in processed.renditions.items():
        storage.save(
            f"{key}/{size}.{processed.extension}", blob, images.CONTENT_TYPES[processed.extension]
        )
    return ProductImage(
        product_id=product_id,
        key=key,
        extension=processed.extension,
        alt=alt,
        width=processed.width,
        height=processed.height,
        position=position,
    )


def delete_image_files(storage, image_key: str, extension: str) -> None:
    for size in images.SIZES:
        storage.delete(f"{image_key}/{size}.{extension}")
