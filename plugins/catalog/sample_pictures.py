"""Pictures for the sample catalogs: drawn (``pictures``), sized and encoded like an
upload (``images.renditions``), stored like one (``services.store_image``).

The demo draws every product's own views (front, back, close-up, one front per
colour). The bulk sample, which may make 100,000 products, draws a front and a close-up
per kind of product and colour, smaller, once, and stores a copy of them for each
product: drawing is what costs, writing a few small files does not.

A picture's key is its content's digest under its product: the same catalog gives the
same keys and the same bytes, run after run, and a key still never names two pictures.
"""

import hashlib
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import images, pictures
from .services import store_image

# Pillow lets go of the GIL while it resizes and encodes: a few threads draw faster.
THREADS = min(4, os.cpu_count() or 1)
VIEW_NAMES = {"front": "front", "back": "back", "detail": "close-up"}
BULK_SIZE = 400  # the bulk sample's pictures: small, it is there for benchmarks
BULK_COLOURS = 3  # colours per kind of product in the bulk sample
SAMPLE_EFFORT = 2  # WebP's method: see ``images.renditions``


@dataclass(frozen=True)
class PictureSpec:
    """One picture to draw: what of which product, in which colour."""

    name: str
    path: str
    colour: str | None
    view: str
    seed: str
    size: int = pictures.SIZE

    @property
    def alt(self) -> str:
        colour = f" in {self.colour}" if self.colour else ""
        return f"{self.name}{colour}, {VIEW_NAMES[self.view]}"

    def render(self) -> images.ProcessedImage:
        drawn = pictures.draw(self.name, self.path, self.colour, self.view, self.seed, self.size)
        return images.renditions(drawn, effort=SAMPLE_EFFORT)


def demo_specs(name: str, path: str, slug: str, colours: list[str] | None) -> list[PictureSpec]:
    """A product's gallery: its views in its first colour, a front in each other colour
    after the first front. Seeded by the slug, so every view shares one background."""
    first = colours[0] if colours else None
    views = [PictureSpec(name, path, first, view, slug) for view in pictures.views_of(name, path)]
    others = [PictureSpec(name, path, colour, "front", slug) for colour in (colours or [])[1:]]
    return views[:1] + others + views[1:]


def picture_key(product_id: int, processed: images.ProcessedImage) -> str:
    digest = hashlib.sha256()
    for name in sorted(processed.renditions):
        digest.update(processed.renditions[name])
    return f"products/{product_id}/{digest.hexdigest()[:16]}"


def render_all(specs, tick=None) -> list[images.ProcessedImage]:
    """Every spec's renditions, in order; ``tick(done, total)`` after each one."""
    done = []
    with ThreadPoolExecutor(THREADS) as pool:
        for processed in pool.map(PictureSpec.render, specs):
            done.append(processed)
            if tick is not None:
                tick(len(done), len(specs))
    return done


def add_demo_pictures(session, storage, products, progress) -> int:
    """Draw and store the pictures of ``products`` (``(product, path, colours)``, each
    product flushed so it has an id); return how many were made."""
    jobs = [
        (product, position, spec)
        for product, path, colours in products
        for position, spec in enumerate(demo_specs(product.name, path, product.slug, colours))
    ]
    progress(f"catalog: drawing {len(jobs)} pictures of {len(products)} sample products")
    reported = set()

    def tick(done: int, total: int) -> None:
        quarter = done * 4 // total
        if quarter not in reported and quarter > 0:
            reported.add(quarter)
            progress(f"catalog: pictures {done}/{total}")

    rendered = render_all([spec for _product, _position, spec in jobs], tick)
    for (product, position, spec), processed in zip(jobs, rendered, strict=True):
        key = picture_key(product.id, processed)
        session.add(store_image(storage, product.id, processed, spec.alt, position, key))
    session.flush()
    return len(jobs)


class BulkPictures:
    """Two small pictures per product, a front and a close-up, drawn once per kind of
    product and colour and stored for every product of that kind (the bulk sample)."""

    VIEWS = ("front", "detail")

    def __init__(self, storage, total: int, progress=None):
        self.storage = storage
        self.total = total
        self.progress = progress
        self.done = 0
        self.drawn: dict[PictureSpec, images.ProcessedImage] = {}

    def specs(self, noun: str, path: str, product_id: int) -> list[PictureSpec]:
        palette = random.Random(f"{path}/{noun}").sample(pictures.FALLBACK, BULK_COLOURS)
        colour = palette[product_id % BULK_COLOURS].capitalize()
        return [
            PictureSpec(noun, path, colour, view, f"{path}/{noun}", BULK_SIZE)
            for view in self.VIEWS
        ]

    def rows(self, products) -> list[tuple]:
        """``catalog_product_images`` rows for ``products`` (``(id, name, noun, path)``),
        their files written: what COPY needs. ``progress(done, total)`` follows the
        products."""
        specs = [self.specs(noun, path, product_id) for product_id, _n, noun, path in products]
        wanted = [spec for views in specs for spec in views if spec not in self.drawn]
        missing = list(dict.fromkeys(wanted))
        self.drawn.update(zip(missing, render_all(missing), strict=True))
        rows = []
        for (product_id, name, _noun, _path), views in zip(products, specs, strict=True):
            for position, spec in enumerate(views):
                processed = self.drawn[spec]
                key = picture_key(product_id, processed)
                alt = f"{name}, {VIEW_NAMES[spec.view]}" if position else name
                image = store_image(self.storage, product_id, processed, alt, position, key)
                rows.append(
                    (product_id, key, image.extension, alt, image.width, image.height, position)
                )
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)
        return rows
