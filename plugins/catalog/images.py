"""Product images: check an upload by its content, re-encode it, make renditions.

Nothing of the uploaded file is kept: Pillow decodes it (only JPEG, PNG, WebP or GIF,
recognised by their bytes, whatever the file is called), refuses more pixels than
allowed *before* decoding them, and every rendition is a fresh WebP encoding, which
carries no EXIF, GPS or comment the original had. Orientation from EXIF is applied
first, so a phone photo is not shown sideways once its EXIF is gone.
"""

import io
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
    upright = upright.convert("RGBA" if has_alpha else "RGB")
    renditions = {}
    for name, edge in SIZES.items():
        copy = upright.copy()
        copy.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        copy.save(out, format="WEBP", quality=82, method=4)
        renditions[name] = out.getvalue()
    return ProcessedImage(upright.width, upright.height, EXTENSION, renditions)


def new_key(product_id: int) -> str:
    """A key no one can guess or that can collide, so renditions cache forever."""
    return f"products/{product_id}/{secrets.token_hex(8)}"
