"""Test-made videos: short AVIs written with PyAV whose frames say their own number.

Frame k (numbered from 1) is grey level ``STEP * k`` in its top half, so a decoded frame reads back
its number (``frame_number``) through lossy codecs; the bottom half is ``mark`` (e.g. which camera),
read back by ``frame_mark``.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

STEP = 12  # grey levels between frames: 20 frames fit in 0-255 and survive mpeg4 and mjpeg


def write_avi(path: Path, frames: int, size: int | tuple[int, int] = 64, codec: str = "mpeg4", mark: int = 0,
              fps: int = 20) -> Path:
    """An AVI of ``frames`` frames of ``size`` (side, or width and height) pixels (MPEG-4 part 2, as
    DISFA's and MMI's DivX/XviD)."""
    if STEP * frames > 255:
        raise ValueError(f"{frames} frames do not fit the grey scale at step {STEP}")
    width, height = (size, size) if isinstance(size, int) else size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for k in range(1, frames + 1):
            pixels = np.full((height, width, 3), mark, np.uint8)
            pixels[: height // 2] = STEP * k
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def frame_number(image: Image.Image) -> int:
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    return round(pixels[: pixels.shape[0] // 2].mean() / STEP)


def frame_mark(image: Image.Image) -> float:
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    return float(pixels[pixels.shape[0] // 2 + 4 :].mean())
