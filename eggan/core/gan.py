"""WGAN-GP and R1 pieces shared by the adversarial baselines (StarGAN, GANimation, HomoInterpGAN).

All three authors' codes compute the penalty of Gulrajani et al. the same way: one mixing
coefficient per sample, the gradient of the *sum* of the critic's outputs (every patch of a
PatchGAN map, every element of a vector score) with respect to the mixed input, one L2 norm over
the whole flattened input per sample, and the batch mean of ``(norm - 1)^2``. The mixing and the
penalty are two functions because a caller sometimes needs the critic's other outputs on the
mixed input (GANimation keeps its AU head in the graph of its separate penalty step).

The CPU recipes may replace WGAN-GP by the non-saturating logistic loss with the R1 penalty of
Mescheder et al. (ICML 2018), as StarGAN v2 and stylegan2-ada do: the penalty is on real inputs
only, zero where the critic is flat around the data, so it does not pull the critic's gradient
towards norm 1 everywhere between real and fake, which is what kept it from converging there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``alpha * real + (1 - alpha) * fake`` with alpha ~ U[0, 1) per sample, detached, requiring grad."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    return (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)


def gradient_penalty(score: torch.Tensor, mixed: torch.Tensor) -> torch.Tensor:
    """``mean_b (||d sum(score) / d mixed_b||_2 - 1)^2``; differentiable (create_graph) for the critic."""
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(score: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``mean_b ||d sum(score) / d real_b||^2`` (Mescheder et al.'s R1 before its gamma / 2);
    ``real`` must require grad and ``score`` hold one logit per sample (differentiable, create_graph)."""
    (grad,) = torch.autograd.grad(score.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def logistic_critic_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    """The critic's non-saturating GAN loss: softplus(-D(real)) + softplus(D(fake)), batch means."""
    return F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()


def logistic_generator_loss(fake_logit: torch.Tensor) -> torch.Tensor:
    """The generator's non-saturating GAN loss: softplus(-D(fake)), the batch mean."""
    return F.softplus(-fake_logit).mean()
