"""Eq. 8: a continuous edit from the source's AUs to the target's, I(alpha) = G(l_s | u_s + alpha (u_t - u_s)).

Written against the Method interface, so it runs for any method conditioned on AU vectors (EGGAN,
and GANimation); each frame is one ``translate`` call, i.e. G(E(I_s) | u(alpha)) for EGGAN, whose
encoder is deterministic, so l_s is the same code in every frame.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from eggan.core.method import Method
from eggan.data.dataset import Target
from eggan.errors import ConfigError
from eggan.io import atomic_write

MAX_STEPS = 64
STRIP_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}  # output suffix -> PIL format


def interpolate(
    method: Method, source: torch.Tensor, source_aus: torch.Tensor, target_aus: torch.Tensor, steps: int = 7
) -> torch.Tensor:
    """Frames for alpha = 0, 1/(steps-1), ..., 1: a tensor of steps x B x 3 x H x W in [-1, 1]."""
    if method.condition != "aus":
        raise ConfigError(f"interpolation needs a method conditioned on AU vectors; {method.name} is not")
    check_steps(steps)
    source_aus = source_aus.expand(len(source), -1).to(source)
    target_aus = target_aus.expand(len(source), -1).to(source)
    frames = [
        method.translate(source, Target(aus=source_aus + alpha * (target_aus - source_aus))).cpu()
        for alpha in torch.linspace(0.0, 1.0, steps).tolist()
    ]
    return torch.stack(frames)


def check_steps(steps: int) -> None:
    """2 to ``MAX_STEPS`` frames: one frame is no interpolation, thousands are no figure."""
    if not 2 <= steps <= MAX_STEPS:
        raise ConfigError(f"--steps must be between 2 and {MAX_STEPS}, got {steps}")


def check_strip_path(out: str | Path, *inputs: str | Path | None) -> None:
    """Refuse, before any work, an output name whose format is unknown or that names an input."""
    out = Path(out)
    if out.suffix.lower() not in STRIP_FORMATS:
        raise ConfigError(f"--out {out}: the image format is chosen by the name; use .png, .jpg or .jpeg")
    for given in filter(None, inputs):
        if Path(given).resolve() == out.resolve() or (out.exists() and os.path.samefile(given, out)):
            raise ConfigError(f"--out {out} is also an input ({given}); write the result to another file")


def save_strip(frames: torch.Tensor, path: str | Path, source: torch.Tensor | None = None) -> Path:
    """One row per source image (the source first when given, then the frames), as a PNG or a
    JPEG by the name's suffix (``check_strip_path``)."""
    rows = frames.transpose(0, 1)  # B x steps x 3 x H x W
    if source is not None:
        rows = torch.cat([source.cpu()[:, None], rows], dim=1)
    grid = make_grid((rows.flatten(0, 1) + 1) / 2, nrow=rows.shape[1], padding=2)
    path = Path(path)
    check_strip_path(path)
    buffer = io.BytesIO()
    save_image(grid, buffer, format=STRIP_FORMATS[path.suffix.lower()])
    return atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))
