"""WGAN-GP pieces shared by the adversarial baselines (StarGAN, GANimation, HomoInterpGAN).

All three authors' codes compute the penalty of Gulrajani et al. the same way: one mixing
coefficient per sample, the gradient of the *sum* of the critic's outputs (every patch of a
PatchGAN map, every element of a vector score) with respect to the mixed input, one L2 norm over
the whole flattened input per sample, and the batch mean of ``(norm - 1)^2``. The mixing and the
penalty are two functions because a caller sometimes needs the critic's other outputs on the
mixed input (GANimation keeps its AU head in the graph of its separate penalty step).
"""

from __future__ import annotations

import torch


def random_interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``alpha * real + (1 - alpha) * fake`` with alpha ~ U[0, 1) per sample, detached, requiring grad."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    return (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)


def gradient_penalty(score: torch.Tensor, mixed: torch.Tensor) -> torch.Tensor:
    """``mean_b (||d sum(score) / d mixed_b||_2 - 1)^2``; differentiable (create_graph) for the critic."""
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()
