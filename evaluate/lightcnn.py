"""LightCNN-9, LightCNN-29 and LightCNN-29v2 (Wu et al., 2018), layer for layer as released.

Module and attribute names follow the released code so that the released state dicts load
strictly: a Max-Feature-Map unit keeps its convolution / linear layer under ``filter``, the
9-layer model is one ``features`` Sequential, the 29-layer models name their stages
``conv1, block1, group1, ...``. Input: N x 1 x 128 x 128 grayscale in [0, 1]; ``forward``
returns ``(logits, feature)`` with the 256-d feature taken before dropout (``lightcnn.md``).

Two knobs exist only for the in-domain verifier trained here (never for released weights):
``width`` scales every channel count, ``input_size`` sets the image side (a multiple of 16).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from eggan.errors import ConfigError

Variant = Literal["lightcnn-9", "lightcnn-29", "lightcnn-29v2"]
VARIANTS: tuple[str, ...] = ("lightcnn-9", "lightcnn-29", "lightcnn-29v2")
# Identity classes of the released checkpoints.
RELEASED_CLASSES: dict[str, int] = {"lightcnn-9": 79077, "lightcnn-29": 79077, "lightcnn-29v2": 80013}
FEATURE_DIM = 256
INPUT_SIZE = 128


class MFM(nn.Module):
    """Max-Feature-Map: a conv (or linear) layer with 2C outputs, then the max of the two halves."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, padding: int = 1, linear: bool = False) -> None:
        super().__init__()
        self.out_channels = c_out
        self.filter = (
            nn.Linear(c_in, 2 * c_out) if linear else nn.Conv2d(c_in, 2 * c_out, kernel_size, 1, padding)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.split(self.filter(x), self.out_channels, dim=1)
        return torch.max(a, b)


class Group(nn.Module):
    """1x1 MFM (C_in -> C_in) then 3x3 MFM (C_in -> C_out)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = MFM(c_in, c_in, kernel_size=1, padding=0)
        self.conv = MFM(c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.conv_a(x))


class ResBlock(nn.Module):
    """Two 3x3 MFM convs with an identity skip (no normalisation anywhere in LightCNN)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = MFM(channels, channels)
        self.conv2 = MFM(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x)) + x


def _channels(width: float) -> tuple[int, int, int, int]:
    return tuple(max(1, round(c * width)) for c in (48, 96, 192, 128))  # type: ignore[return-value]


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True)


def _flat(channels: int, input_size: int) -> int:
    side = -(-input_size // 16)  # four ceil-mode 2x poolings
    return side * side * channels


class LightCNN9(nn.Module):
    def __init__(self, num_classes: int | None = 79077, width: float = 1.0, input_size: int = INPUT_SIZE) -> None:
        super().__init__()
        c1, c2, c3, c4 = _channels(width)
        self.features = nn.Sequential(
            MFM(1, c1, kernel_size=5, padding=2), _pool(),
            Group(c1, c2), _pool(),
            Group(c2, c3), _pool(),
            Group(c3, c4), Group(c4, c4), _pool(),
        )  # fmt: skip
        self.fc1 = MFM(_flat(c4, input_size), FEATURE_DIM, linear=True)
        self.fc2 = nn.Linear(FEATURE_DIM, num_classes) if num_classes else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        feature = self.fc1(self.features(x).flatten(1))
        logits = None if self.fc2 is None else self.fc2(F.dropout(feature, training=self.training))
        return logits, feature


class LightCNN29(nn.Module):
    """The 29-layer model; ``v2`` sums max and average pooling, uses a plain Linear embedding and
    a bias-free classifier."""

    def __init__(
        self,
        num_classes: int | None = 79077,
        v2: bool = False,
        width: float = 1.0,
        input_size: int = INPUT_SIZE,
        layers: tuple[int, int, int, int] = (1, 2, 3, 4),
    ) -> None:
        super().__init__()
        self.v2 = v2
        c1, c2, c3, c4 = _channels(width)
        self.conv1 = MFM(1, c1, kernel_size=5, padding=2)
        self.block1 = nn.Sequential(*(ResBlock(c1) for _ in range(layers[0])))
        self.group1 = Group(c1, c2)
        self.block2 = nn.Sequential(*(ResBlock(c2) for _ in range(layers[1])))
        self.group2 = Group(c2, c3)
        self.block3 = nn.Sequential(*(ResBlock(c3) for _ in range(layers[2])))
        self.group3 = Group(c3, c4)
        self.block4 = nn.Sequential(*(ResBlock(c4) for _ in range(layers[3])))
        self.group4 = Group(c4, c4)
        flat = _flat(c4, input_size)
        self.fc = nn.Linear(flat, FEATURE_DIM) if v2 else MFM(flat, FEATURE_DIM, linear=True)
        self.fc2 = nn.Linear(FEATURE_DIM, num_classes, bias=not v2) if num_classes else None

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.v2:
            return F.max_pool2d(x, 2, ceil_mode=True) + F.avg_pool2d(x, 2, ceil_mode=True)
        return F.max_pool2d(x, 2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        x = self.pool(self.conv1(x))
        x = self.pool(self.group1(self.block1(x)))
        x = self.pool(self.group2(self.block2(x)))
        x = self.group4(self.block4(self.group3(self.block3(x))))
        feature = self.fc(self.pool(x).flatten(1))
        logits = None if self.fc2 is None else self.fc2(F.dropout(feature, training=self.training))
        return logits, feature


def build_lightcnn(
    variant: str, num_classes: int | None = None, width: float = 1.0, input_size: int = INPUT_SIZE
) -> nn.Module:
    """A LightCNN of ``variant``; ``num_classes=None`` builds the backbone only (no ``fc2``)."""
    if variant == "lightcnn-9":
        return LightCNN9(num_classes, width, input_size)
    if variant in ("lightcnn-29", "lightcnn-29v2"):
        return LightCNN29(num_classes, v2=variant == "lightcnn-29v2", width=width, input_size=input_size)
    raise ConfigError(f"unknown LightCNN variant {variant!r}; expected one of {', '.join(VARIANTS)}")
