"""EGGAN's networks by role: E, D_z, G, D_img, C_exp and C_id, from one of two architecture families.

``architecture="paper"`` builds the paper's networks (eggan.nets_paper), ``"official"`` the
authors' published ones (eggan.nets_official). Both families share the layer pieces of
eggan.blocks and take the same arguments, so the rest of EGGAN never asks which one it has.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from eggan import nets_official, nets_paper
from eggan.blocks import LatentDiscriminator, Norm, init_normal_

Architecture = Literal["paper", "official"]
N_LEVELS = 6  # C_exp's classes per AU: intensities 0..5 (the paper's m + 1 with m = 5)


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
) -> dict[str, nn.Module]:
    """The trained networks by name, plus ``c_id`` when the identity loss is on.

    ``norm`` (E and G) and ``critic_width`` (D_img; default ``width``) apply to the paper family."""
    if architecture == "paper":
        nets: dict[str, nn.Module] = {
            "encoder": nets_paper.Encoder(image_size, latent_size, width, norm),
            "latent_d": LatentDiscriminator(latent_size, nets_paper.LATENT_D_UNITS, slope_per_unit=True),
            "generator": nets_paper.Generator(image_size, latent_size, n_aus, width, norm),
            "critic": nets_paper.Critic(image_size, width if critic_width is None else critic_width),
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
