"""The gradient penalty shared by EGGAN and the baselines, on critics whose penalty is known exactly."""

from __future__ import annotations

import pytest
import torch

from eggan.core.gan import gradient_penalty, random_interpolate


def test_a_linear_critic_has_gradient_norm_w() -> None:
    """D(x) = w . x + b: every sample's input gradient is w, so the penalty is (||w|| - 1)^2, and its
    gradient with respect to w is 2 (||w|| - 1) w / ||w||."""
    w = torch.tensor([3.0, 0.0, 4.0, 0.0]).view(1, 1, 2, 2).requires_grad_(True)  # ||w|| = 5
    mixed = torch.randn(3, 1, 2, 2, requires_grad=True)
    score = (mixed * w).flatten(1).sum(1) + 0.7
    penalty = gradient_penalty(score, mixed)
    assert float(penalty.detach()) == pytest.approx(16.0)
    (grad_w,) = torch.autograd.grad(penalty, w)  # differentiable for the critic's own step
    assert torch.allclose(grad_w, 2 * (5 - 1) * w.detach() / 5)


def test_the_norm_is_taken_per_sample_over_a_summed_score_map() -> None:
    """D(x) = sum of x^2 / 2 over a map of outputs: the input gradient of sample b is x_b."""
    mixed = torch.zeros(2, 1, 3, 3)
    mixed[0, 0, 1, 1] = 3.0  # ||x_0|| = 3, ||x_1|| = 0
    mixed.requires_grad_(True)
    score_map = mixed**2 / 2  # a PatchGAN-like map, one output per pixel
    assert float(gradient_penalty(score_map, mixed).detach()) == pytest.approx(((3 - 1) ** 2 + (0 - 1) ** 2) / 2)


def test_interpolates_lie_between_real_and_fake_with_one_coefficient_per_sample() -> None:
    real, fake = torch.ones(4, 3, 2, 2), torch.zeros(4, 3, 2, 2)
    torch.manual_seed(0)
    mixed = random_interpolate(real, fake)
    assert mixed.requires_grad and mixed.grad_fn is None  # a leaf: the penalty differentiates w.r.t. it
    alpha = mixed.flatten(1)
    assert torch.equal(alpha, alpha[:, :1].expand_as(alpha)) and alpha.min() >= 0 and alpha.max() < 1
    assert len(set(alpha[:, 0].tolist())) == 4
