"""Layers every method's networks are built from (EGGAN's two families and the baselines).

The networks are stacks of the same few pieces: a convolution followed by an optional
normalisation and activation, initialised as the authors' code does. Widths are given at
multiplier 1 and scaled with ``widen`` so every network shrinks together for CPU presets.
"""

from __future__ import annotations

import math
from typing import Literal

from torch import nn

Norm = Literal["instance", "batch", "none"]
Act = Literal["prelu", "lrelu", "relu", "none"]


def widen(channels: int, width: float) -> int:
    """Channels at width multiplier ``width`` (at least 1)."""
    return max(1, round(channels * width))


def log2_int(value: int, what: str) -> int:
    """log2 of a power of two; the image sizes of the suite are powers of two."""
    power = round(math.log2(value))
    if 2**power != value:
        raise ValueError(f"{what} must be a power of two, got {value}")
    return power


def norm_layer(kind: Norm, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def activation(kind: Act, channels: int = 1) -> nn.Module:
    if kind == "prelu":
        return nn.PReLU(channels)
    if kind == "lrelu":
        return nn.LeakyReLU(0.2)
    if kind == "relu":
        return nn.ReLU()
    return nn.Identity()


def conv_block(
    c_in: int,
    c_out: int,
    kernel: int,
    stride: int = 1,
    padding: int | None = None,
    norm: Norm = "none",
    act: Act = "none",
    transposed: bool = False,
    affine_norm: bool = True,
    slope_per_channel: bool = True,
) -> nn.Sequential:
    """conv (or transposed conv) -> norm -> activation; padding defaults to 'same' for odd kernels.

    ``slope_per_channel=False`` gives PReLU one shared slope, as the authors' ``nn.PReLU()``.
    """
    pad = (kernel // 2 if kernel % 2 else (kernel - stride) // 2) if padding is None else padding
    conv_type = nn.ConvTranspose2d if transposed else nn.Conv2d
    layers: list[nn.Module] = [conv_type(c_in, c_out, kernel, stride, pad)]
    if norm == "instance" and not affine_norm:
        layers.append(nn.InstanceNorm2d(c_out, affine=False))
    elif norm != "none":
        layers.append(norm_layer(norm, c_out))
    if act != "none":
        layers.append(activation(act, c_out if slope_per_channel else 1))
    return nn.Sequential(*layers)


def init_normal_(module: nn.Module, std: float = 0.02) -> None:
    """The authors' initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
