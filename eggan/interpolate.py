"""Eq. 8: a continuous edit from the source's AUs to the target's, I(alpha) = G(l_s | u_s + alpha (u_t - u_s)).

Written against the Method interface, so it runs for any method conditioned on AU vectors (EGGAN,
and GANimation); each frame is one ``translate`` call, i.e. G(E(I_s) | u(alpha)) for EGGAN, whose
encoder is deterministic, so l_s is the same code in every frame.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from eggan.data.dataset import Target
from eggan.errors import ConfigError
from eggan.io import atomic_write
from eggan.method import Method


def interpolate(
    method: Method, source: torch.Tensor, source_aus: torch.Tensor, target_aus: torch.Tensor, steps: int = 7
) -> torch.Tensor:
    """Frames for alpha = 0, 1/(steps-1), ..., 1: a tensor of steps x B x 3 x H x W in [-1, 1]."""
    if method.condition != "aus":
        raise ConfigError(f"interpolation needs a method conditioned on AU vectors; {method.name} is not")
    if steps < 2:
        raise ConfigError(f"--steps must be at least 2, got {steps}")
    source_aus = source_aus.expand(len(source), -1).to(source)
    target_aus = target_aus.expand(len(source), -1).to(source)
    frames = [
        method.translate(source, Target(aus=source_aus + alpha * (target_aus - source_aus))).cpu()
        for alpha in torch.linspace(0.0, 1.0, steps).tolist()
    ]
    return torch.stack(frames)


def save_strip(frames: torch.Tensor, path: str | Path, source: torch.Tensor | None = None) -> Path:
    """One row per source image (the source first when given, then the frames), as a PNG."""
    rows = frames.transpose(0, 1)  # B x steps x 3 x H x W
    if source is not None:
        rows = torch.cat([source.cpu()[:, None], rows], dim=1)
    grid = make_grid((rows.flatten(0, 1) + 1) / 2, nrow=rows.shape[1], padding=2)
    buffer = io.BytesIO()
    save_image(grid, buffer, format="png")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))
