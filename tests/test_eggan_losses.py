"""EGGAN's loss terms: values on known inputs, AU discretisation, normalisation, gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from eggan.egg import losses as L


def test_discretisation_rounds_for_the_paper_and_truncates_for_the_authors() -> None:
    aus = torch.tensor([[0.0, 0.4, 0.5, 2.5, 2.9, 4.6, 5.0]])
    assert L.discretise_aus(aus, "round").tolist() == [[0, 0, 1, 3, 3, 5, 5]]
    assert L.discretise_aus(aus, "truncate").tolist() == [[0, 0, 0, 2, 2, 4, 5]]
    assert L.discretise_aus(aus, "round").dtype == torch.long


def test_expression_loss_is_the_mean_cross_entropy_over_aus_and_images() -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 17, 6)
    levels = torch.randint(0, 6, (3, 17))
    per_au = [F.cross_entropy(logits[:, k], levels[:, k]) for k in range(17)]
    assert float(L.expression_loss(logits, levels)) == pytest.approx(float(torch.stack(per_au).mean()), rel=1e-6)
    perfect = F.one_hot(levels, 6).float() * 100
    assert float(L.expression_accuracy(perfect, levels)) == 1.0


def test_latent_adversarial_terms() -> None:
    zero = torch.zeros(4)
    assert float(L.latent_d_loss(zero, zero)) == pytest.approx(2 * math.log(2))
    assert float(L.latent_encoder_loss(zero)) == pytest.approx(math.log(2))
    # the encoder's term falls as D_z takes its codes for prior samples
    assert float(L.latent_encoder_loss(torch.full((4,), 3.0))) < math.log(2)
    assert float(L.latent_d_ls_loss(torch.ones(4), zero)) == 0.0
    assert float(L.latent_d_ls_loss(zero, torch.ones(4))) == pytest.approx(1.0)


def test_image_adversarial_terms() -> None:
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([-1.0, 1.0])
    assert float(L.critic_wgan_loss(real, fake)) == pytest.approx(-3.0)
    assert float(L.generator_wgan_loss(fake)) == pytest.approx(0.0)
    assert float(L.critic_ls_loss(torch.ones(2), torch.zeros(2))) == 0.0
    assert float(L.generator_ls_loss(torch.zeros(2))) == pytest.approx(1.0)


def test_perceptual_loss_is_normalised_by_feature_size() -> None:
    small, large = torch.zeros(2, 8, 4, 4), torch.zeros(2, 64, 16, 16)
    assert float(L.perceptual_loss(small + 0.5, small)) == pytest.approx(0.25)
    assert float(L.perceptual_loss(large + 0.5, large)) == pytest.approx(0.25)


def test_reconstruction_terms_vanish_on_a_perfect_reconstruction() -> None:
    from eggan.egg.msssim import settings_for

    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert float(L.l1_loss(x, x)) == 0.0
    assert float(L.msssim_loss(x, x, settings_for(32))) == pytest.approx(0.0, abs=1e-5)
    noisy = (x + 0.2 * torch.randn_like(x)).requires_grad_(True)
    loss = L.l1_loss(noisy, x) + L.msssim_loss(noisy, x, settings_for(32))
    loss.backward()
    assert float(loss.detach()) > 0 and torch.isfinite(noisy.grad).all()
