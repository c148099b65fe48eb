"""Product images: check an upload by its content, re-encode it, make renditions.

Nothing of the uploaded file is kept: Pillow decodes it (only JPEG, PNG, WebP or GIF,
recognised by their bytes, whatever the file is called), refuses more pixels than
allowed *before* decoding them, and every rendition is a fresh WebP encoding, which
carries no EXIF, GPS or comment the original had. Orientation from EXIF is applied
first, so a phone photo is not shown sideways once its EXIF is gone.
"""

import io
import math
import secrets
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# Longest edge of each rendition; an image smaller than that is never enlarged.
SIZES = {"thumb": 320, "medium": 800, "large": 1600}
EXTENSION = "webp"
CONTENT_TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}


class ImageRejected(ValueError):
    """The upload is not an image we accept; the message is meant for the uploader."""


@dataclass
class ProcessedImage:
    width: int
    height: int
    extension: str
    renditions: dict[str, bytes]


def human_size(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


def process(data: bytes, max_bytes: int, max_pixels: int) -> ProcessedImage:
    """Check and re-encode ``data``; raise ``ImageRejected`` with a reason otherwise."""
    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > max_bytes:
        raise ImageRejected(f"The file is larger than {human_size(max_bytes)}.")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise ImageRejected("The image has far too many pixels.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageRejected("The file is not a JPEG, PNG, WebP or GIF image.") from None
    with image:
        width, height = image.size
        if width < 1 or height < 1:
            raise ImageRejected("The image has no pixels.")
        if width * height > max_pixels:
            raise ImageRejected(
                f"The image is {width}×{height} pixels; at most "
                f"{max_pixels / 1_000_000:.0f} megapixels are accepted."
            )
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except Exception:
            # Pillow's decoders raise many kinds of error on a damaged file; none of
            # them is the uploader's to read.
            raise ImageRejected("The image file is damaged or incomplete.") from None
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    return renditions(upright.convert("RGBA" if has_alpha else "RGB"))


def renditions(image: Image.Image, effort: int = 4) -> ProcessedImage:
    """Every rendition of a decoded, upright RGB(A) ``image`` (an upload's, or a sample
    picture drawn by ``pictures``): the one way pictures are sized and encoded.

    ``effort`` is WebP's ``method`` (0–6): 4 for uploads; the sample pictures, flat
    colours made by the hundred, take 2, which encodes 2.5 times faster for files a
    tenth larger (measured on the demo's pictures).
    """
    encoded: dict[str, bytes] = {}
    previous: tuple[tuple[int, int], bytes] | None = None
    for name, edge in SIZES.items():
        size = rendition_size(image.width, image.height, edge)
        if previous is not None and previous[0] == size:
            # An image smaller than this edge is not enlarged: the same pixels as the
            # rendition before, so the same bytes, without encoding them again.
            encoded[name] = previous[1]
            continue
        copy = image.copy()
        copy.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        copy.save(out, format="WEBP", quality=82, method=effort)
        encoded[name] = out.getvalue()
        previous = (size, encoded[name])
    return ProcessedImage(image.width, image.height, EXTENSION, encoded)


def _round_aspect(number: float, key) -> int:
    return max(min(math.floor(number), math.ceil(number), key=key), 1)


def rendition_size(width: int, height: int, edge: int) -> tuple[int, int]:
    """The pixel size of the rendition of a ``width``×``height`` image whose longest
    side is at most ``edge``: what ``Image.thumbnail`` makes, rounding included, so a
    page can give every ``srcset`` candidate its true width without opening it."""
    if width <= edge and height <= edge:
        return width, height
    aspect = width / height
    if aspect <= 1:
        return _round_aspect(edge * aspect, key=lambda n: abs(aspect - n / edge)), edge
    return edge, _round_aspect(edge / aspect, key=lambda n: 0 if n == 0 else abs(aspect - edge / n))


def new_key(product_id: int) -> str:
    """A key no one can guess or that can collide, so renditions cache forever."""
    return f"products/{product_id}/{secrets.token_hex(8)}"
