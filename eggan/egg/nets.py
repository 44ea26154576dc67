"""EGGAN's networks by role: E, D_z, G, D_img, C_exp and C_id, from one of two architecture families.

``architecture="paper"`` builds the paper's networks (eggan.egg.nets_paper), ``"official"`` the
authors' published ones (eggan.egg.nets_official). Both families share the layer pieces of
eggan.core.blocks and take the same arguments, so the rest of EGGAN never asks which one it has.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from eggan.core.blocks import Norm, init_normal_
from eggan.egg import nets_official, nets_paper

Architecture = Literal["paper", "official"]
N_LEVELS = 6  # C_exp's classes per AU: intensities 0..5 (the paper's m + 1 with m = 5)


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


def build_networks(
    architecture: Architecture,
    image_size: int,
    latent_size: int,
    n_aus: int,
    n_identities: int,
    width: float = 1.0,
    classifier_depth: tuple[int, ...] = nets_paper.VGG19_DEPTH,
    identity: bool = True,
    norm: Norm = "instance",
    critic_width: float | None = None,
    latent_grid: int = 1,
    coder_width: float | None = None,
    critic_condition: bool = False,
    au_every_block: bool = False,
) -> dict[str, nn.Module]:
    """The trained networks by name, plus ``c_id`` when the identity loss is on.

    ``norm`` (E and G), ``critic_width`` (D_img; default ``width``), ``coder_width`` (E and G;
    default ``width``), ``latent_grid`` (E and G), ``critic_condition`` (D_img scores image and
    AUs together) and ``au_every_block`` (G) apply to the paper family."""
    if architecture == "paper":
        coder = width if coder_width is None else coder_width
        nets: dict[str, nn.Module] = {
            "encoder": nets_paper.Encoder(image_size, latent_size, coder, norm, latent_grid),
            "latent_d": LatentDiscriminator(latent_size, nets_paper.LATENT_D_UNITS, slope_per_unit=True),
            "generator": nets_paper.Generator(image_size, latent_size, n_aus, coder, norm, latent_grid,
                                              au_every_block),
            "critic": nets_paper.Critic(image_size, width if critic_width is None else critic_width,
                                        n_aus if critic_condition else 0),
            "c_exp": nets_paper.VGGClassifier((n_aus, N_LEVELS), width, classifier_depth),
        }
        if identity:
            nets["c_id"] = nets_paper.VGGClassifier(n_identities, width, classifier_depth)
        return nets
    if architecture == "official":
        nets = {
            "encoder": nets_official.OfficialEncoder(latent_size, width),
            "latent_d": LatentDiscriminator(latent_size, nets_official.LATENT_D_UNITS, slope_per_unit=False),
            "generator": nets_official.OfficialGenerator(image_size, latent_size, n_aus, width),
            "critic": nets_official.OfficialDiscriminator(image_size, width),
            "c_exp": nets_official.OfficialExpressionClassifier(n_aus, N_LEVELS, width),
        }
        if identity:
            nets["c_id"] = nets_official.OfficialIdentityClassifier(n_identities, width)
        for net in nets.values():
            init_normal_(net)
        return nets
    raise ValueError(f"unknown architecture {architecture!r}")
