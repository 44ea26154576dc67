"""Decoding an image file honestly: 8-bit RGB at the right scale, or a one-line refusal.

Pillow's ``convert("RGB")`` clips instead of scaling: a 16-bit grey PNG (values up to 65535)
becomes a white face and a float TIFF (values in 0-1) a black one, silently. Here 16-bit images
are scaled by 255/65535, float images in 0-1 by 255, and anything whose 8-bit scale is unknown
(floats outside 0-1 or not finite, 32-bit integers outside 0-65535) is refused, naming the range.

An image's size is read from its header before any pixel is decoded; above ``MAX_PIXELS`` (Pillow's
own warning limit, about 9,459 px square) it is refused, so a small file that declares a huge
image (a decompression bomb) never reaches the allocation, and Pillow's multi-line warning is
never printed. A face needs a tiny fraction of that.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

MAX_PIXELS = 89_478_485
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


class ImageRefused(ValueError):
    """An image that decodes, but not to pixels whose meaning is known (or too large to decode)."""


@contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """``Image.open`` with the size checked from the header first (``ImageRefused`` above ``MAX_PIXELS``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            image = None
    if image is None:  # Pillow's own limit tripped first; read the size without its check
        with _unchecked():
            image = Image.open(path)
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageRefused(
                f"refused: {width}x{height} is {width * height / 1e6:.1f} Mpx, more than the "
                f"{MAX_PIXELS / 1e6:.1f} Mpx this suite decodes (a face needs far fewer; a small file declaring a "
                "huge image is a decompression bomb); downscale it first")
        yield image


@contextmanager
def _unchecked() -> Iterator[None]:
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # header only: open() reads the size, decoding is refused after
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def rgb8(image: Image.Image) -> Image.Image:
    """The image as 8-bit RGB at the right scale (see the module docstring), or ``ImageRefused``."""
    if image.mode in SIXTEEN_BIT or image.mode == "I":
        values = np.asarray(image, dtype=np.int64)
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > 65535:
            raise ImageRefused(f"refused: 32-bit integer pixels from {low} to {high}, outside 16-bit 0-65535, so "
                               "their 8-bit scale is unknown; save it as an 8- or 16-bit image")
        return _grey(values * (255 / 65535))
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            finite = values[np.isfinite(values)]
            span = f"from {finite.min():g} to {finite.max():g}" if finite.size else "none finite"
            raise ImageRefused(f"refused: floating-point pixels {span}"
                               f"{'' if finite.size == values.size else ' with NaN or infinity'}, not in 0-1, so "
                               "their 8-bit scale is unknown; save it as an 8-bit image or with values in 0-1")
        return _grey(values * 255)
    return image.convert("RGB")


def _grey(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(values).astype(np.uint8), mode="L").convert("RGB")
