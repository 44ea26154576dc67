"""Layers shared by EGGAN's two architecture families (the paper's and the authors' code).

Both families are stacks of the same few pieces: a convolution followed by an optional
normalisation and activation, and (paper only) an up-sampling residual block. Widths are given
at multiplier 1 and scaled with ``widen`` so every network shrinks together for CPU presets.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
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


class UpResBlock(nn.Module):
    """Pre-activation residual block (InstanceNorm, PReLU) that optionally doubles the resolution.

    main: IN -> PReLU -> [upsample x2] -> conv3x3 -> IN -> PReLU -> conv3x3
    skip: [upsample x2] -> conv1x1 (when the width changes)
    ``norm="batch"`` puts BatchNorm where IN is (a CPU-preset setting, see EggANConfig.norm).
    """

    def __init__(self, c_in: int, c_out: int, upsample: bool, norm: Norm = "instance") -> None:
        super().__init__()
        up: nn.Module = nn.Upsample(scale_factor=2, mode="nearest") if upsample else nn.Identity()
        self.main = nn.Sequential(
            norm_layer(norm, c_in),
            nn.PReLU(c_in),
            up,
            nn.Conv2d(c_in, c_out, 3, 1, 1),
            norm_layer(norm, c_out),
            nn.PReLU(c_out),
            nn.Conv2d(c_out, c_out, 3, 1, 1),
        )
        skip: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample else []
        if c_in != c_out:
            skip.append(nn.Conv2d(c_in, c_out, 1))
        self.skip = nn.Sequential(*skip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.skip(x)


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


class LatentDiscriminator(nn.Module):
    """D_z: fully connected layers with PReLU between them and one raw score per code.

    The paper's (256, 128, 64, 32, 16, 1) and the authors' (128, 64, 32, 16, 1) differ only in the
    units and in PReLU's slope: one per unit in the paper family, one shared in the authors' code.
    """

    def __init__(self, latent_size: int, units: tuple[int, ...], slope_per_unit: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = latent_size
        for n in units:
            layers.append(nn.Linear(c_in, n))
            if n != 1:
                layers.append(nn.PReLU(n if slope_per_unit else 1))
            c_in = n
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)
