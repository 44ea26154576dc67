"""phi: the frozen VGG19 trunk of EGGAN's perceptual loss (Eq. 5), up to relu3_1.

The paper uses "the third layer" of the pre-trained VGG19; the authors' code uses the first block
of a normalised VGG19 (conv1_1 ... relu3_1). Both are the torchvision VGG19 ``features[:12]``.
The weights come from ``eggan.core.vgg.vgg19_features``: ImageNet weights found offline, or (only
where the preset allows it) a fixed-seed random VGG19, whose status goes into the run metadata.
The CPU presets use a narrower random trunk of the same layers (``width``), see build_perceptual.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from eggan.core.method import set_requires_grad
from eggan.core.vgg import VGGStatus, imagenet_normalise, narrow_random_trunk, vgg19_features
from eggan.errors import ConfigError

RELU3_1 = 12  # torchvision VGG19 features[:12] ends with relu3_1
InputMode = Literal["imagenet", "raw"]


class Perceptual(nn.Module):
    """Frozen relu3_1 features; ``input_mode`` 'imagenet' normalises [-1, 1] images first, 'raw'
    feeds them as they are (the authors' code)."""

    def __init__(self, trunk: nn.Sequential, status: VGGStatus, input_mode: InputMode = "imagenet") -> None:
        super().__init__()
        self.trunk = trunk[:RELU3_1]
        self.status = status
        self.input_mode = input_mode
        set_requires_grad(self.trunk, False)
        self.trunk.eval()

    def train(self, mode: bool = True) -> Perceptual:
        """Always in eval mode: phi is a fixed measuring instrument."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(imagenet_normalise(x) if self.input_mode == "imagenet" else x)


def build_perceptual(
    weights: str | None, allow_random: bool, input_mode: InputMode = "imagenet", width: float = 1.0,
    trained: tuple[nn.Sequential, VGGStatus] | None = None,
) -> Perceptual:
    """phi from ImageNet VGG19 weights; a random trunk only when ``allow_random`` (with a warning).

    ``width`` < 1 asks for a narrower random trunk (``eggan.core.vgg.narrow_random_trunk``): the CPU
    presets' stand-in, which costs width^2 of the full trunk and never depends on the weights cache.
    ``trained`` is a trunk with its status trained elsewhere (``eggan.core.facetrunk``), used as given.
    """
    if trained is not None:
        return Perceptual(*trained, input_mode)
    if width != 1.0:
        if not allow_random:
            raise ConfigError(f"a perceptual trunk at width {width:g} is random by construction; "
                              "it needs model.allow_random_vgg=true")
        trunk, status = narrow_random_trunk(width)
        return Perceptual(trunk, status, input_mode)
    trunk, status = vgg19_features(weights, allow_random=allow_random)
    return Perceptual(trunk, status, input_mode)
