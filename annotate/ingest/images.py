"""Images: verify with Pillow under a pixel limit, apply EXIF orientation, make a thumbnail
and cheap features (a normalised colour histogram of the thumbnail).

Pixel floods are errors, never warnings: Image.MAX_IMAGE_PIXELS comes from
settings.MEDIA_MAX_IMAGE_PIXELS and the size is checked from the header before decoding.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from django.conf import settings
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .sniff import MediaRejected

HISTOGRAM_BINS = 8
THUMBNAIL_QUALITY = 85
EXIF_ORIENTATION = 0x0112

# Pillow must never quietly accept a truncated file, and a possible decompression bomb is an
# error, not a warning. Set once for the process: warnings.catch_warnings is not thread-safe
# and images are processed on worker threads.
ImageFile.LOAD_TRUNCATED_IMAGES = False
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


class ImageRejected(MediaRejected):
    """The image cannot be used; the message is for the person who sent it."""


@dataclass
class Thumbnail:
    jpeg: bytes
    features: dict


@dataclass
class ProcessedImage:
    width: int
    height: int
    thumbnail: Thumbnail
    # Set when EXIF orientation had to be applied: the upright pixels, re-encoded, and their
    # content type and suffix. The stored original is then these bytes.
    upright: bytes | None = None
    upright_content_type: str | None = None
    upright_suffix: str | None = None


def colour_histogram(image: Image.Image, bins: int = HISTOGRAM_BINS) -> list[float]:
    """Per-channel RGB histogram with `bins` bins each, every channel summing to 1."""
    counts = np.asarray(image.convert("RGB").histogram(), dtype=np.float64).reshape(3, 256)
    binned = counts.reshape(3, bins, 256 // bins).sum(axis=2)
    totals = binned.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1
    return [round(float(v), 6) for v in (binned / totals).ravel()]


def _thumbnail(image: Image.Image) -> Thumbnail:
    size = settings.MEDIA_THUMBNAIL_SIZE
    thumb = image  # in place: callers are done with the full image
    thumb.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if thumb.mode not in ("RGB", "L"):
        thumb = thumb.convert("RGBA").convert("RGB") if "A" in thumb.mode else thumb.convert("RGB")
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return Thumbnail(
        jpeg=out.getvalue(),
        features={"color_histogram": colour_histogram(thumb), "bins_per_channel": HISTOGRAM_BINS},
    )


def _thumbnail_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, settings.MEDIA_THUMBNAIL_SIZE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_pixels(width: int, height: int) -> None:
    limit = settings.MEDIA_MAX_IMAGE_PIXELS
    if width <= 0 or height <= 0:
        raise ImageRejected("The image has no pixels.")
    side = settings.MEDIA_MAX_IMAGE_SIDE
    if max(width, height) > side:
        raise ImageRejected(
            f"The image is {width}x{height} pixels: a side is longer than the limit of "
            f"{side} pixels."
        )
    aspect = settings.MEDIA_MAX_IMAGE_ASPECT
    if max(width, height) > aspect * min(width, height):
        raise ImageRejected(
            f"The image is {width}x{height} pixels: longer than {aspect:g} times its width "
            "(a strip, not a picture to label)."
        )
    if width * height > limit:
        raise ImageRejected(
            f"The image is {width}x{height} pixels: more pixels than the limit of "
            f"{limit / 1e6:g} megapixels."
        )


def _rejected_from(error: Exception) -> ImageRejected:
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        limit = settings.MEDIA_MAX_IMAGE_PIXELS
        return ImageRejected(
            f"The image has more pixels than the limit of {limit / 1e6:g} megapixels."
        )
    if isinstance(error, UnidentifiedImageError):
        return ImageRejected("The file cannot be read as an image.")
    detail = str(error).strip().rstrip(".")
    if "truncated" in detail:
        return ImageRejected("The image is truncated: the file ends before the picture does.")
    return ImageRejected(f"The image is damaged ({detail or type(error).__name__}).")


def image_process(source: BinaryIO) -> ProcessedImage:
    """Verify and decode an image once; return its upright size, thumbnail and features."""
    Image.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_IMAGE_PIXELS
    try:
        source.seek(0)
        with Image.open(source) as checked:
            _check_pixels(*checked.size)
            checked.verify()
        source.seek(0)
        with Image.open(source) as image:
            width, height = image.size
            _check_pixels(width, height)
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            if orientation in range(2, 9):
                return _process_rotated(image)
            if image.format == "JPEG":
                # Decode at the smallest DCT scale still at least thumbnail-sized: the
                # whole stream is still read, so truncation is still caught.
                image.draft("RGB", _thumbnail_size(width, height))
            image.load()
            return ProcessedImage(width=width, height=height, thumbnail=_thumbnail(image))
    except ImageRejected:
        raise
    except (
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        TypeError,
        struct.error,
        zlib.error,
    ) as error:
        raise _rejected_from(error) from None


def _process_rotated(image: Image.Image) -> ProcessedImage:
    image.load()
    upright = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    if upright.mode in ("RGB", "L"):
        upright.save(out, "JPEG", quality=95)
        content_type, suffix = "image/jpeg", ".jpg"
    else:
        upright.save(out, "PNG")
        content_type, suffix = "image/png", ".png"
    return ProcessedImage(
        width=upright.size[0],
        height=upright.size[1],
        thumbnail=_thumbnail(upright),
        upright=out.getvalue(),
        upright_content_type=content_type,
        upright_suffix=suffix,
    )


def image_thumbnail_from_path(path: str) -> Thumbnail:
    """Thumbnail and features of a trusted local image (an extracted video frame)."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", _thumbnail_size(*image.size))
            image.load()
            return _thumbnail(image)
    except (OSError, ValueError) as error:
        raise _rejected_from(error) from None
