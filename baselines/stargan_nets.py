"""StarGAN's generator and PatchGAN critic, layer for layer as in yunjey/stargan (``model.py``).

The module and parameter names are the authors' (``main.N``, ``conv1``, ``conv2``) so their
``*-G.ckpt`` / ``*-D.ckpt`` state dicts load unchanged. At the authors' configuration (128 px,
8 classes, 64 channels, 6 residual blocks, 6 critic layers) G has 8,439,936 and D 44,786,624
parameters. GANimation's networks are these with other heads (its code descends from StarGAN's),
so ``baselines.ganimation_nets`` builds on the pieces here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eggan.core.blocks import log2_int


class InstanceNorm(nn.InstanceNorm2d):
    """The authors' ``InstanceNorm2d(affine=True, track_running_stats=True)``, minus eval mode's switch.

    Their code never calls ``G.eval()``, so G always normalises with per-image statistics while the
    running statistics are updated and saved but never read. Keeping the buffers lets their
    checkpoints load unchanged; ignoring them in eval mode makes our inference (which runs in
    eval mode) identical to theirs.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        track = self.training
        return F.instance_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_input_stats=True,
            momentum=self.momentum if self.momentum is not None else 0.1,
            eps=self.eps,
        )


def norm2d(channels: int, tracked: bool) -> nn.Module:
    """StarGAN's tracked instance norm, or the plain affine one of GANimation's code."""
    return InstanceNorm(channels) if tracked else nn.InstanceNorm2d(channels, affine=True)


class ResidualBlock(nn.Module):
    """x + [conv3x3 - IN - ReLU - conv3x3 - IN](x); no biases, no activation after the sum."""

    def __init__(self, dim: int, tracked: bool = True) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            norm2d(dim, tracked),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            norm2d(dim, tracked),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


def encoder_decoder(in_channels: int, conv_dim: int, repeat_num: int, tracked: bool) -> list[nn.Module]:
    """7x7 conv, two stride-2 down convs, residual blocks, two stride-2 up convs (IN + ReLU each)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, conv_dim, 7, 1, 3, bias=False),
        norm2d(conv_dim, tracked),
        nn.ReLU(inplace=True),
    ]
    dim = conv_dim
    for _ in range(2):
        layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), norm2d(dim * 2, tracked), nn.ReLU(inplace=True)]
        dim *= 2
    layers += [ResidualBlock(dim, tracked) for _ in range(repeat_num)]
    for _ in range(2):
        layers += [
            nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False),
            norm2d(dim // 2, tracked),
            nn.ReLU(inplace=True),
        ]
        dim //= 2
    return layers


def tile_condition(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Concatenate the condition vector, replicated over every pixel, to the image channels."""
    planes = c.view(c.shape[0], c.shape[1], 1, 1).expand(-1, -1, x.shape[2], x.shape[3])
    return torch.cat([x, planes.to(x.dtype)], dim=1)


class Generator(nn.Module):
    """G(x, c): the target label tiled and concatenated at the input only; tanh output in [-1, 1]."""

    def __init__(self, conv_dim: int = 64, c_dim: int = 8, repeat_num: int = 6) -> None:
        super().__init__()
        layers = encoder_decoder(3 + c_dim, conv_dim, repeat_num, tracked=True)
        layers += [nn.Conv2d(conv_dim, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.main(tile_condition(x, c))


def critic_depth(image_size: int) -> int:
    """Stride-2 layers that bring the image to 2x2: 6 at 128 (the authors'), 5 at 64, 4 at 32."""
    return log2_int(image_size, "image size") - 1


class Discriminator(nn.Module):
    """D(x) -> (out_src, out_cls): PatchGAN critic map and class logits from one conv trunk.

    Trunk: ``repeat_num`` stride-2 4x4 convs with bias, LeakyReLU(0.01), no normalisation, the
    width doubling each time. ``conv1`` (3x3) gives the patch score map; ``conv2`` (kernel =
    the trunk's spatial size) gives one logit per class, reshaped to (B, c_dim).
    """

    def __init__(self, image_size: int = 128, conv_dim: int = 64, c_dim: int = 8, repeat_num: int = 6) -> None:
        super().__init__()
        kernel = image_size // 2**repeat_num
        if kernel < 1:
            raise ValueError(f"{repeat_num} stride-2 layers do not fit a {image_size}px image")
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            dim *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(dim, c_dim, kernel, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.conv1(h), self.conv2(h).view(h.shape[0], -1)
