"""GANimation's generator (colour + attention heads) and critic (patch score + AU regression).

From albertpumarola/GANimation (``networks/generator_wasserstein_gan.py``,
``networks/discriminator_wasserstein_gan.py``), whose code descends from StarGAN's: the same
encoder-decoder trunk (plain affine InstanceNorm here) and the same critic trunk, with the AU
vector tiled at the input and two output heads on the generator. Names follow the authors'
(``main``, ``img_reg``, ``attetion_reg`` [sic], ``conv1``, ``conv2``).
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.stargan_nets import Discriminator, encoder_decoder, tile_condition
from eggan.core.blocks import init_normal_


class Generator(nn.Module):
    """G(x, y) -> (colour C in [-1, 1], attention A in [0, 1]); compose with ``compose``."""

    def __init__(self, conv_dim: int = 64, c_dim: int = 17, repeat_num: int = 6) -> None:
        super().__init__()
        self.main = nn.Sequential(*encoder_decoder(3 + c_dim, conv_dim, repeat_num, tracked=False))
        self.img_reg = nn.Sequential(nn.Conv2d(conv_dim, 3, 7, 1, 3, bias=False), nn.Tanh())
        self.attetion_reg = nn.Sequential(nn.Conv2d(conv_dim, 1, 7, 1, 3, bias=False), nn.Sigmoid())
        init_normal_(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(tile_condition(x, y))
        return self.img_reg(h), self.attetion_reg(h)


def compose(image: torch.Tensor, colour: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """output = A * input + (1 - A) * C: A near 1 keeps the input pixel, near 0 takes the colour."""
    return attention * image + (1 - attention) * colour


def critic(image_size: int, conv_dim: int = 64, c_dim: int = 17, repeat_num: int = 6) -> Discriminator:
    """StarGAN's critic with a ``c_dim``-value AU regression head, initialised N(0, 0.02) as theirs."""
    net = Discriminator(image_size, conv_dim, c_dim, repeat_num)
    init_normal_(net)
    return net


def smoothness(mask: torch.Tensor) -> torch.Tensor:
    """Total variation as the authors sum it: absolute differences of horizontal and vertical neighbours."""
    return (mask[:, :, :, :-1] - mask[:, :, :, 1:]).abs().sum() + (mask[:, :, :-1, :] - mask[:, :, 1:, :]).abs().sum()
