"""EGGAN's networks as the paper describes them (Section 4.1), at any suite size (32-256 px).

The paper gives layer counts and a few widths for 128x128 images; what it leaves open is chosen
here and listed in docs/eggan-variants.md. Size awareness keeps the paper's layer counts at every
size: the encoder's five stride-2 convolutions end on an (S/32)^2 map, the generator's six
residual blocks up-sample as often as the size allows (all six from 2x2 at 128 and 4x4 at 256;
at 64 and 32 the first one or two keep the 2x2 resolution), and the critic's six convolutions
stride by 2 until a 2x2 map and by 1 afterwards.
"""

from __future__ import annotations

import torch
from torch import nn

from eggan.core.blocks import Norm, conv_block, log2_int, norm_layer, widen

ENCODER_CHANNELS = (16, 32, 64, 128, 256)  # paper: five stride-2 convs, then one FC layer
LATENT_D_UNITS = (256, 128, 64, 32, 16, 1)  # paper: six FC layers
GENERATOR_CHANNELS = (512, 256, 128, 64, 32, 32)  # one per residual block (paper: widths open)
CRITIC_CHANNELS = (64, 128, 256, 512, 1024, 2048)  # six convs, StarGAN's widths (paper: open)
# "VGG19-inspired": VGG19's 2-2-4-4-4 conv blocks with max-pooling, at half VGG19's widths.
CLASSIFIER_CHANNELS = (32, 64, 128, 256, 256)
VGG19_DEPTH = (2, 2, 4, 4, 4)


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


class Encoder(nn.Module):
    """E: image -> structured latent code l_s (unbounded, matched to the N(0, I) prior by D_z).

    ``grid`` 1 is the paper's E: five stride-2 convolutions and a fully connected layer. A grid
    g > 1 (a CPU-preset setting, EggANConfig.latent_grid) keeps the code spatial: the stride-2
    convolutions stop at a g x g map and a 3x3 convolution gives latent_size / g^2 channels; the
    code is that map flattened, so D_z and the prior see a vector either way.
    """

    def __init__(self, image_size: int, latent_size: int, width: float = 1.0, norm: Norm = "instance",
                 grid: int = 1) -> None:
        super().__init__()
        chans = [3, *(widen(c, width) for c in ENCODER_CHANNELS)]
        n_down = 5 if grid == 1 else log2_int(image_size // grid, "image size / latent grid")
        # The last map is 1x1 at 32 px, where InstanceNorm is undefined: it gets no norm.
        self.features = nn.Sequential(
            *(conv_block(chans[i], chans[i + 1], 4, 2, 1, norm if i < 4 else "none", "prelu") for i in range(n_down))
        )
        side = image_size // 32
        self.fc = nn.Linear(chans[-1] * side * side, latent_size) if grid == 1 else None
        self.to_grid = nn.Conv2d(chans[n_down], grid_channels(latent_size, grid), 3, 1, 1) if grid > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.fc(h.flatten(1)) if self.to_grid is None else self.to_grid(h).flatten(1)


class Generator(nn.Module):
    """G(l | u): the code and the AUs (scaled to [0, 1]) projected to a small map, then 6 blocks.

    With a latent ``grid`` g > 1 the code is already a g x g map: a fully connected layer projects
    the AUs to a map of their own (as the paper's first layer projects code and AUs), concatenated
    to it, and G keeps only its blocks at the grid's resolution and above (the first at g x g, the
    rest doubling it), with the widths they have in the paper's layout. An AU broadcast over the
    grid instead reached 0.03 of the ideal change in a probe where the projected map reached 0.05.

    ``au_every_block`` (EggANConfig.au_injection="every-block", with a grid) concatenates that AU
    map, up-sampled, to the input of every later block too: the AUs then reach the resolutions
    where the mouth and brows are drawn directly, not only through the first block's features.
    """

    def __init__(self, image_size: int, latent_size: int, n_aus: int, width: float = 1.0,
                 norm: Norm = "instance", grid: int = 1, au_every_block: bool = False) -> None:
        super().__init__()
        if au_every_block and grid == 1:
            raise ValueError("the AUs reach every block only with a latent grid")
        self.grid = grid
        self.au_every_block = au_every_block
        chans = [widen(c, width) for c in GENERATOR_CHANNELS]
        if grid == 1:
            self.start = max(2, image_size // 64)
            n_up = log2_int(image_size // self.start, "image size")
            self.project: nn.Module = nn.Linear(latent_size + n_aus, chans[0] * self.start**2)
            ups = [False] * (len(chans) - n_up) + [True] * n_up
            inputs = [chans[max(0, i - 1)] for i in range(len(chans))]
        else:
            self.start = grid
            n_up = log2_int(image_size // grid, "image size / latent grid")
            self.project = nn.Linear(n_aus, n_aus * grid * grid)  # the AUs' own map, a weight per position
            chans = chans[-(n_up + 1):]
            ups = [False] + [True] * n_up
            inputs = [grid_channels(latent_size, grid) + n_aus, *(c + n_aus * au_every_block for c in chans[:-1])]
        self.blocks = nn.Sequential(*(UpResBlock(c_in, c, up, norm) for c_in, c, up in zip(inputs, chans, ups,
                                                                                            strict=True)))
        self.out = nn.Sequential(
            norm_layer(norm, chans[-1]), nn.PReLU(chans[-1]), nn.Conv2d(chans[-1], 3, 3, 1, 1), nn.Tanh()
        )

    def forward(self, latent: torch.Tensor, aus: torch.Tensor) -> torch.Tensor:
        n, g = latent.shape[0], self.start
        if self.grid == 1:
            return self.out(self.blocks(self.project(torch.cat([latent, aus / 5.0], dim=1)).view(n, -1, g, g)))
        au_map = self.project(aus / 5.0).view(n, -1, g, g)
        h = torch.cat([latent.view(n, -1, g, g), au_map], dim=1)
        for i, block in enumerate(self.blocks):
            if i and self.au_every_block:
                h = torch.cat([h, nn.functional.interpolate(au_map, size=h.shape[-2:], mode="nearest")], dim=1)
            h = block(h)
        return self.out(h)


def grid_channels(latent_size: int, grid: int) -> int:
    """Channels of a g x g latent map holding ``latent_size`` values."""
    if latent_size % (grid * grid):
        raise ValueError(f"a latent of {latent_size} values does not fill a {grid}x{grid} grid")
    return latent_size // (grid * grid)


class Critic(nn.Module):
    """D_img: WGAN-GP critic, six 4x4 convs (stride 2 down to 2x2), a 3x3 output conv, mean score.

    Below 128 px the map reaches 2x2 before the sixth conv; the remaining convs are 3x3, stride 1,
    and keep the width they reached (doubling there would put three quarters of the critic's
    cost into convolutions over four positions). At 128 and 256 px all six stride by 2.
    """

    def __init__(self, image_size: int, width: float = 1.0, n_aus: int = 0) -> None:
        super().__init__()
        n_down = min(6, log2_int(image_size // 2, "image size"))
        widths = [widen(c, width) for c in CRITIC_CHANNELS]
        chans = [3, *widths[:n_down], *[widths[n_down - 1]] * (6 - n_down)]
        layers = [
            conv_block(chans[i], chans[i + 1], 4 if i < n_down else 3, 2 if i < n_down else 1, act="lrelu")
            for i in range(6)
        ]
        self.features = nn.Sequential(*layers)
        self.out = nn.Conv2d(chans[-1], 1, 3, 1, 1)
        self.embed = nn.Linear(n_aus, chans[-1], bias=False) if n_aus else None

    def forward(self, x: torch.Tensor, aus: torch.Tensor | None = None) -> torch.Tensor:
        """The score of each image; with ``n_aus`` (EggANConfig.critic_condition="projection") the
        score of each (image, AU vector) pair: the projection discriminator of Miyato & Koyama
        (2018) adds the inner product of the AUs' embedding with the pooled features."""
        h = self.features(x)
        score = self.out(h).mean(dim=(1, 2, 3))
        if self.embed is None:
            return score
        if aus is None:
            raise ValueError("a projection critic scores (image, AU vector) pairs: pass the AUs")
        return score + (self.embed(aus / 5.0) * h.mean(dim=(2, 3))).sum(1)


class VGGClassifier(nn.Module):
    """C_exp and C_id: VGG19-style conv blocks (BatchNorm, ReLU, max-pool), global pool, linear.

    ``outputs = (k, n)`` gives k independent n-way softmaxes (C_exp: 17 x 6); a single int gives
    plain logits (C_id).
    """

    def __init__(
        self, outputs: int | tuple[int, int], width: float = 1.0, depth: tuple[int, ...] = VGG19_DEPTH
    ) -> None:
        super().__init__()
        if len(depth) != len(CLASSIFIER_CHANNELS):
            raise ValueError(f"classifier depth needs {len(CLASSIFIER_CHANNELS)} blocks, got {depth}")
        layers: list[nn.Module] = []
        c_in = 3
        for channels, convs in zip(CLASSIFIER_CHANNELS, depth, strict=True):
            c_out = widen(channels, width)
            for _ in range(convs):
                layers.append(conv_block(c_in, c_out, 3, norm="batch", act="relu"))
                c_in = c_out
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.shape = outputs if isinstance(outputs, tuple) else (outputs,)
        n_out = 1
        for n in self.shape:
            n_out *= n
        self.head = nn.Linear(c_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).mean(dim=(2, 3))
        return self.head(h).view(x.shape[0], *self.shape)
