"""HomoInterpGAN's networks (EnVision-Research/HomoInterpGAN): VGG-19 encoder, interpolator,
decoder, latent critic with classifier head, and the knowledge-guidance transform.

At width 1 and 128 px these are the authors' layers: encoder 12,944,960 parameters, 7,079,424
per interpolator branch, decoder 6,201,603, KG transform 262,656; the critic has the authors'
trunk and critic head with one 8-logit expression head (2,560,776). ``width`` scales every
channel count so CPU presets can shrink the whole model (ImageNet weights then cannot apply).
The encoder's module names are the authors' (``features_{1,2,3}.convX_Y``), so their
normalised-VGG file loads by key.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from eggan.core.blocks import log2_int, widen

# VGG-19 up to relu5_1, split as the authors split it: (name, output channels) or "pool".
VGG_BLOCKS: tuple[tuple[str | tuple[str, int], ...], ...] = (
    (("conv1_1", 64), ("conv1_2", 64), "pool", ("conv2_1", 128), ("conv2_2", 128), "pool", ("conv3_1", 256)),
    (("conv3_2", 256), ("conv3_3", 256), ("conv3_4", 256), "pool", ("conv4_1", 512)),
    (("conv4_2", 512), ("conv4_3", 512), ("conv4_4", 512), "pool", ("conv5_1", 512)),
)
# The layer the latent is taken at: (VGG blocks run, max-pools before it, channels at width 1). The
# authors' is relu5_1, whose map is image_size / 16 on a side: 8x8 at their 128 px, but 2x2 at 32 px.
LATENT_LAYERS = {"relu3_1": (1, 2, 256), "relu4_1": (2, 3, 512), "relu5_1": (3, 4, 512)}


def latent_grid(image_size: int, layer: str = "relu5_1") -> int:
    """The latent map's side at ``layer`` for ``image_size`` px images."""
    return image_size // 2 ** LATENT_LAYERS[layer][1]


def latent_channels(width: float, layer: str = "relu5_1") -> int:
    return widen(LATENT_LAYERS[layer][2], width)


class VGGEncoder(nn.Module):
    """VGG-19 features at ``layer`` (the authors': relu5_1); ``features_1`` alone gives relu3_1
    (the perceptual loss's layer), so the blocks after it are built only for a deeper latent."""

    def __init__(self, width: float = 1.0, layer: str = "relu5_1") -> None:
        super().__init__()
        c_in = 3
        for index, block in enumerate(VGG_BLOCKS[: LATENT_LAYERS[layer][0]], start=1):
            layers: OrderedDict[str, nn.Module] = OrderedDict()
            pools = 0
            for item in block:
                if item == "pool":
                    pools += 1
                    layers[f"pool{index}_{pools}"] = nn.MaxPool2d(2, 2)
                    continue
                name, channels = item
                c_out = widen(channels, width)
                layers[name] = nn.Conv2d(c_in, c_out, 3, 1, 1)
                layers[name.replace("conv", "relu")] = nn.ReLU()
                c_in = c_out
            setattr(self, f"features_{index}", nn.Sequential(layers))
        for conv in self.convs():  # torchvision's VGG initialisation (used when no weights are loaded)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)

    def convs(self) -> list[nn.Conv2d]:
        """The 13 convolutions in forward order (torchvision's ``features[:30]`` order too)."""
        return [m for m in self.modules() if isinstance(m, nn.Conv2d)]

    def blocks(self) -> list[nn.Sequential]:
        """``features_1``, ``features_2``, ... up to the latent layer, in forward order."""
        return [getattr(self, f"features_{i}") for i in range(1, len(VGG_BLOCKS) + 1) if hasattr(self, f"features_{i}")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.beyond_relu3_1(self.features_1(x))

    def beyond_relu3_1(self, relu3_1: torch.Tensor) -> torch.Tensor:
        """The latent from relu3_1 features: lets a caller that needs both compute the first block once."""
        for block in self.blocks()[1:]:
            relu3_1 = block(relu3_1)
        return relu3_1


class Interpolator(nn.Module):
    """z = f_a + sum_k v_k * B_k(f_b - f_a): v = 0 is the identity, v = 1 is trained to reach f_b."""

    def __init__(self, n_branch: int, width: float = 1.0, layer: str = "relu5_1") -> None:
        super().__init__()
        c = latent_channels(width, layer)

        def branch() -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1)
            )

        self.branches = nn.ModuleList(branch() for _ in range(n_branch))

    def forward(self, f_a: torch.Tensor, f_b: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        diff = f_b - f_a
        out = f_a
        for k, branch in enumerate(self.branches):
            out = out + v[:, k].view(-1, 1, 1, 1) * branch(diff)
        return out


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, 1, 1), nn.BatchNorm2d(c_out), nn.ReLU()]


class Decoder(nn.Module):
    """The authors' ``decoder`` (dec_type v1): conv-BN-ReLU stack with four nearest x2 upsamplings.

    The output lives in ImageNet-normalised pixel space (no final activation), like the input.
    For a latent at a shallower ``layer`` (fewer max-pools) the same layers are kept and only the
    last upsamplings, one per pool, remain; the first convolution reads that layer's channels.
    """

    def __init__(self, width: float = 1.0, layer: str = "relu5_1") -> None:
        super().__init__()
        c512, c256, c128, c64 = (widen(c, width) for c in (512, 256, 128, 64))
        ups = iter([False] * (4 - LATENT_LAYERS[layer][1]) + [True] * LATENT_LAYERS[layer][1])

        def up() -> list[nn.Module]:
            return [nn.Upsample(scale_factor=2, mode="nearest")] if next(ups) else []

        layers: list[nn.Module] = _conv_bn_relu(latent_channels(width, layer), c512)
        layers += [*up(), *_conv_bn_relu(c512, c256)]
        for _ in range(3):
            layers += _conv_bn_relu(c256, c256)
        layers += [*up(), *_conv_bn_relu(c256, c128)]
        for _ in range(3):
            layers += _conv_bn_relu(c128, c128)
        layers += [*up(), *_conv_bn_relu(c128, c64), *_conv_bn_relu(c64, c64)]
        layers += [*up(), *_conv_bn_relu(c64, c64), nn.Conv2d(c64, 3, 3, 1, 1)]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class LatentCritic(nn.Module):
    """D(f) -> (critic scores B x C, class logits B x n_classes) on a latent of ``latent_size``.

    The authors' trunk (1x1 conv, stride-2 4x4 convs, final 2x2 valid conv; InstanceNorm and
    LeakyReLU 0.2) has two stride-2 convs, which fits only the 8x8 latent of 128 px images. Here
    the number of stride-2 convs is log2(latent_size) - 1 (2 at 128 px, 1 at 64, 0 at 32), so the
    trunk always ends at 1x1; at 128 px it is the authors' network.
    """

    def __init__(self, latent_size: int, n_classes: int, width: float = 1.0, layer: str = "relu5_1") -> None:
        super().__init__()
        c, h = latent_channels(width, layer), widen(256, width)
        downs = log2_int(latent_size, "latent size") - 1
        if downs < 0:
            raise ValueError(f"the latent critic needs a latent of at least 2x2, got {latent_size}")
        layers: list[nn.Module] = [nn.Conv2d(c, h, 1), nn.InstanceNorm2d(h, affine=True), nn.LeakyReLU(0.2)]
        for _ in range(downs):
            layers += [nn.Conv2d(h, h, 4, 2, 1), nn.InstanceNorm2d(h, affine=True), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(h, h, 2))
        self.main = nn.Sequential(*layers)
        self.critic = nn.Conv2d(h, h, 1)  # the authors' `ifReal`: a 256-value score per sample
        self.classifier = nn.Conv2d(h, n_classes, 1)

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(f)
        return self.critic(h).flatten(1), self.classifier(h).flatten(1)


class KGTransform(nn.Module):
    """1x1 conv mapping the fine-tuned encoder's latent onto the frozen teacher's."""

    def __init__(self, width: float = 1.0, layer: str = "relu5_1") -> None:
        super().__init__()
        c = latent_channels(width, layer)
        self.conv = nn.Conv2d(c, c, 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.conv(f)
