"""EGGAN's loss terms (Eq. 1-7), one small function each; the authors' least-squares terms apart.

Every function takes network outputs (not networks), so the method decides which forward pass
feeds which term and an ablated term is simply never called.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from eggan.data.aus import AU_MAX
from eggan.egg.msssim import MSSSIMSettings, ms_ssim

Discretisation = Literal["round", "truncate"]


# --- Eq. 1: latent adversarial loss (AAE prior on E's code), paper form ---------------------
def latent_d_loss(d_prior: torch.Tensor, d_encoded: torch.Tensor) -> torch.Tensor:
    """D_z's side of Eq. 1: -[log D_z(z) + log(1 - D_z(E(I)))], from logits."""
    return F.softplus(-d_prior).mean() + F.softplus(d_encoded).mean()


def latent_encoder_loss(d_encoded: torch.Tensor) -> torch.Tensor:
    """E's side of Eq. 1 (non-saturating form): -log D_z(E(I)), from logits."""
    return F.softplus(-d_encoded).mean()


# --- Eq. 2: WGAN-GP image adversarial loss --------------------------------------------------
def critic_wgan_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """D_img's Wasserstein estimate to minimise: E[D(fake)] - E[D(real)]."""
    return d_fake.mean() - d_real.mean()


def generator_wgan_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return -d_fake.mean()


# The penalty term lambda_gp E[(||grad D(I_hat)||_2 - 1)^2] is eggan.core.gan.gradient_penalty,
# shared with the baselines (the authors compute it the same way).


# --- Eq. 3: expression (per-AU intensity classes) -------------------------------------------
def discretise_aus(aus: torch.Tensor, mode: Discretisation) -> torch.Tensor:
    """AU intensities 0-5 -> classes 0..5: rounded half up (paper) or truncated (authors: 2.9 -> 2)."""
    levels = torch.floor(aus + 0.5) if mode == "round" else torch.trunc(aus)
    return levels.clamp(0, AU_MAX).long()


def expression_loss(logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of C_exp's 6-way softmax per AU, averaged over the AUs and the batch."""
    return F.cross_entropy(logits.flatten(0, 1), levels.flatten())


def expression_accuracy(logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Share of (image, AU) pairs whose intensity class C_exp gets right."""
    return (logits.argmax(-1) == levels).float().mean()


# --- Eq. 4: identity ---------------------------------------------------------------------------
def identity_loss(logits: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the frozen C_id on a generated image against the source identity."""
    return F.cross_entropy(logits, identity)


# --- Eq. 5: perceptual -------------------------------------------------------------------------
def perceptual_loss(features: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """||phi(a) - phi(b)||_2^2 normalised by the feature size (C x H x W), batch mean."""
    return F.mse_loss(features, reference)


# --- Eq. 6: reconstruction -----------------------------------------------------------------
def l1_loss(reconstruction: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(reconstruction, source)


def msssim_loss(reconstruction: torch.Tensor, source: torch.Tensor, settings: MSSSIMSettings) -> torch.Tensor:
    """1 - MS-SSIM(I_s', I_s)."""
    return 1 - ms_ssim(reconstruction, source, settings)


# --- the authors' least-squares adversarial terms ---------------------------------------------
def ls_real(d: torch.Tensor) -> torch.Tensor:
    return ((d - 1) ** 2).mean()


def ls_fake(d: torch.Tensor) -> torch.Tensor:
    return (d**2).mean()


def critic_ls_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """(D(real) - 1)^2 + D(fake)^2."""
    return ls_real(d_real) + ls_fake(d_fake)


def latent_d_ls_loss(d_prior: torch.Tensor, d_encoded: torch.Tensor) -> torch.Tensor:
    """0.5 [(D_z(z) - 1)^2 + D_z(E(x))^2]."""
    return 0.5 * (ls_real(d_prior) + ls_fake(d_encoded))


def generator_ls_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """(D(fake) - 1)^2."""
    return ls_real(d_fake)
