"""EGGAN's networks as the authors' public code builds them (eggan-official.md), made size-aware.

The published code runs only at 128x128 (its generator always emits 128 px, its critic fails
below). Here every network keeps its published layer pattern and reproduces it exactly at 128;
at other sizes the pattern is re-derived from the size:

- Generator: one [4x4 stride-2 transposed conv, 3x3 transposed conv] stage per doubling from 4x4
  to S (five at 128), widths 64 * S / resolution capped at 2048 (2048 at 4x4 and 64 at S, as
  published at 128).
- Image discriminator: one 4x4 stride-2 conv per halving from S to 4x4 (five at 128), widths
  128, 256, ... capped at 2048, then the unpadded 4x4 conv to one score.
- Encoder, C_exp and C_id end with global average pooling and work at any size unchanged.
All widths scale with the width multiplier. Every PReLU has one shared slope (the authors'
``nn.PReLU()``). Weights start from N(0, 0.02) as published (``eggan.core.blocks.init_normal_``).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from eggan.core.blocks import conv_block, log2_int, widen

ENCODER_CHANNELS = (128, 256, 512, 1024, 2048)
LATENT_D_UNITS = (128, 64, 32, 16, 1)
MAX_CHANNELS = 2048

block = partial(conv_block, slope_per_channel=False)  # the authors' conv blocks: one PReLU slope each


class OfficialEncoder(nn.Module):
    """Five 4x4 stride-2 convs (InstanceNorm + PReLU on the first four), GAP, linear, sigmoid."""

    def __init__(self, latent_size: int, width: float = 1.0) -> None:
        super().__init__()
        chans = [3, *(widen(c, width) for c in ENCODER_CHANNELS)]
        layers = [
            block(chans[i], chans[i + 1], 4, 2, 1, "instance", "prelu", affine_norm=False)
            for i in range(4)
        ]
        self.features = nn.Sequential(*layers, block(chans[4], chans[5], 4, 2, 1))
        self.fc = nn.Linear(chans[-1], latent_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc(self.features(x).mean(dim=(2, 3))))


class OfficialGenerator(nn.Module):
    """[code, AUs] as a 1x1 map -> 4x4 -> stages of transposed convs -> 1x1 transposed conv, tanh.

    No residual connections; InstanceNorm (no affine) + PReLU after every transposed conv. The AUs
    enter on their 0-5 scale, as published.
    """

    def __init__(self, image_size: int, latent_size: int, n_aus: int, width: float = 1.0) -> None:
        super().__init__()
        stages = log2_int(image_size // 4, "image size")

        def chans(resolution: int) -> int:
            return widen(min(MAX_CHANNELS, 64 * image_size // resolution), width)

        c = chans(4)
        layers = [
            block(latent_size + n_aus, c, 4, 1, 0, "instance", "prelu", transposed=True, affine_norm=False),
            block(c, c, 3, 1, 1, "instance", "prelu", transposed=True, affine_norm=False),
        ]
        resolution = 4
        for _ in range(stages):
            resolution *= 2
            c_next = chans(resolution)
            layers += [
                block(c, c_next, 4, 2, 1, "instance", "prelu", transposed=True, affine_norm=False),
                block(c_next, c_next, 3, 1, 1, "instance", "prelu", transposed=True, affine_norm=False),
            ]
            c = c_next
        layers += [nn.ConvTranspose2d(c, 3, 1, 1, 0), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor, aus: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([latent, aus], dim=1)[:, :, None, None])


class OfficialDiscriminator(nn.Module):
    """4x4 stride-2 convs with PReLU down to 4x4 (no normalisation), then an unpadded 4x4 conv."""

    def __init__(self, image_size: int, width: float = 1.0) -> None:
        super().__init__()
        n_down = log2_int(image_size // 4, "image size")
        chans = [3, *(widen(min(MAX_CHANNELS, 128 * 2**i), width) for i in range(n_down))]
        self.features = nn.Sequential(
            *(block(chans[i], chans[i + 1], 4, 2, 1, act="prelu") for i in range(n_down))
        )
        self.out = nn.Conv2d(chans[-1], 1, 4, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x)).flatten(1).mean(dim=1)


class OfficialExpressionClassifier(nn.Module):
    """3x3 convs 3->512 (s2)->512->1024 (s2)->1024, IN + PReLU on the first three, GAP, 17 x 6."""

    def __init__(self, n_aus: int, n_levels: int, width: float = 1.0) -> None:
        super().__init__()
        c512, c1024 = widen(512, width), widen(1024, width)
        self.features = nn.Sequential(
            block(3, c512, 3, 2, 1, "instance", "prelu", affine_norm=False),
            block(c512, c512, 3, 1, 1, "instance", "prelu", affine_norm=False),
            block(c512, c1024, 3, 2, 1, "instance", "prelu", affine_norm=False),
            block(c1024, c1024, 3, 1, 1),
        )
        self.head = nn.Linear(c1024, n_aus * n_levels)
        self.shape = (n_aus, n_levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3))).view(x.shape[0], *self.shape)


class OfficialIdentityClassifier(nn.Module):
    """Nine 3x3 convs: 3->32->32, pool, 32->64->64, pool, five stride-2 convs 64->...->2048, GAP.

    BatchNorm + PReLU follow every conv but the last, which is bare as published. The published
    module also returns its last feature map; only the logits are used anywhere.
    """

    def __init__(self, n_identities: int, width: float = 1.0) -> None:
        super().__init__()
        c = [widen(n, width) for n in (32, 64, 128, 256, 512, 1024, 2048)]
        layers: list[nn.Module] = [
            block(3, c[0], 3, 1, 1, "batch", "prelu"),
            block(c[0], c[0], 3, 1, 1, "batch", "prelu"),
            nn.AvgPool2d(2),
            block(c[0], c[1], 3, 1, 1, "batch", "prelu"),
            block(c[1], c[1], 3, 1, 1, "batch", "prelu"),
            nn.AvgPool2d(2),
        ]
        layers += [block(c[i], c[i + 1], 3, 2, 1, "batch", "prelu") for i in range(1, 5)]
        layers.append(block(c[5], c[6], 3, 2, 1))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c[-1], n_identities)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))
