"""EGGAN's three training phases as the paper writes them (Eq. 1-7), term by term.

One recorded paper-variant step (``step_recorder``): each phase's loss is written here by hand from
the paper, on the tensors the method fed its networks, with copies of the networks as that phase
saw them; its value must equal the logged term and its gradients the ones the optimisers applied.
So a term computed on the wrong tensor (the edit for the reconstruction), with a flipped sign (the
gradient penalty), on swapped inputs (D_z's prior and code) or against the wrong target (truncated
instead of rounded AU classes) fails here, not only in a long run's numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from eggan_helpers import smoke_model
from step_recorder import Record, assert_same_gradients, gradients, on_segment, penalty, record

from eggan.core.gan import gradient_penalty, random_interpolate
from eggan.data.dataset import Batch, FaceDataset, load_dataset
from eggan.egg.model import EggAN
from eggan.egg.msssim import ms_ssim

# The paper's Eq. 7 weights (Section 4.1) and lambda_gp; the encoder's latent term has weight 1.
WEIGHTS = {"g_adv": 1.0, "e_adv": 1.0, "g_exp": 100.0, "g_id": 60.0, "g_per": 20.0, "g_l1": 100.0,
           "g_msssim": 100.0}
LAMBDA_GP = 20.0
# Target AU vectors whose rounding and truncation differ (Eq. 3: round to the nearest class).
BANK = torch.tensor([[2.5, 0.49, 4.51, 3.7, 1.5, 0.0, 5.0, 2.2, 3.5, 0.6, 1.49, 4.0, 2.75, 0.2, 3.3, 4.8, 1.0],
                     [0.5, 3.6, 1.2, 4.5, 2.9, 0.51, 3.0, 1.7, 0.3, 2.5, 4.2, 1.8, 0.0, 3.5, 2.4, 0.9, 4.6]])


def paper_classes(aus: torch.Tensor) -> torch.Tensor:
    """Eq. 3: each intensity rounded to the nearest class in 0..5 (halves up)."""
    return torch.floor(aus + 0.5).clamp(0, 5).long()


def cross_entropy_per_au(logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Mean over images and AUs of -log softmax(logits)[class] (C_exp's 17 six-way softmaxes)."""
    log_p = logits.log_softmax(-1)
    return -log_p.gather(-1, classes.unsqueeze(-1)).mean()


@pytest.fixture(scope="module")
def train(tiny_dataset: Path) -> FaceDataset:
    return load_dataset(tiny_dataset, 32).split("train")


@pytest.fixture(scope="module")
def stepped(train: FaceDataset) -> tuple[EggAN, Batch, Record, dict[str, torch.Tensor]]:
    """One paper-variant iteration (the paper's loss weights) on four images of different people."""
    method = smoke_model(train, "model.classifier_weight_scale=1")
    method.au_bank = BANK.clone()
    batch = train.batch(torch.arange(0, 32, 8))
    assert len(set(batch.identity.tolist())) == 4
    torch.manual_seed(0)
    with record(method) as log:
        out = method.train_step(batch, 0)
    return method, batch, log, out


def test_the_phases_run_in_the_papers_order(stepped) -> None:
    _, _, log, out = stepped
    assert log.stepped() == ["critic", "c_exp", "latent_d", "encoder", "generator"]
    assert set(out) >= set(WEIGHTS) | {"d_adv", "d_gp", "c_exp", "dz_adv", "g_total"}


def test_critic_step_is_wgan_gp_on_real_vs_edit_and_c_exp_on_real_classes(stepped) -> None:
    """D_img minimises E[D(edit)] - E[D(real)] + 20 GP on real/edit interpolates; C_exp learns the
    real images' rounded AU classes; one backward pass serves both."""
    _, batch, log, out = stepped
    x, n = batch.image, len(batch)
    (generator,) = log.of("generator")  # the paper's fake is the step's edit: G runs once
    edit = generator.output[:n]
    real, fake, mixed = log.of("critic")[0].args[0].split(n)
    assert torch.equal(real, x) and torch.equal(fake, edit)
    t = on_segment(mixed, real, fake)
    assert ((t >= 0) & (t <= 1)).all() and len(set(t.tolist())) == n  # one mixing coefficient per image

    nets = log.update("critic").nets
    critic, c_exp = nets["critic"], nets["c_exp"]
    adv = critic(fake).mean() - critic(real).mean()
    gp = penalty(critic, mixed)
    exp = cross_entropy_per_au(c_exp(x), paper_classes(batch.aus))
    assert torch.allclose(out["d_adv"], adv, rtol=1e-5, atol=1e-6)
    assert torch.allclose(out["d_gp"], gp, rtol=1e-4, atol=1e-6)
    assert torch.allclose(out["c_exp"], exp, rtol=1e-5)
    loss = adv + LAMBDA_GP * gp + exp
    assert_same_gradients(log.update("critic").grads, gradients(loss, critic), "D_img")
    assert_same_gradients(log.update("c_exp").grads, gradients(loss, c_exp), "C_exp")


def test_latent_step_takes_prior_samples_as_real_and_codes_as_fake(stepped) -> None:
    """Eq. 1, D_z's side: maximise log D_z(z) + log(1 - D_z(E(x))) with z ~ N(0, I)."""
    _, batch, log, out = stepped
    n = len(batch)
    code = log.of("encoder")[0].output
    prior, coded = log.of("latent_d")[0].args[0].split(n)
    assert torch.equal(coded, code)
    assert abs(float(prior.mean())) < 0.3 and 0.7 < float(prior.std()) < 1.3  # 4 x 32 standard normals
    latent_d = log.update("latent_d").nets["latent_d"]
    loss = -(torch.sigmoid(latent_d(prior)).log().mean() + (1 - torch.sigmoid(latent_d(coded))).log().mean())
    assert torch.allclose(out["dz_adv"], loss, rtol=1e-5)
    assert_same_gradients(log.update("latent_d").grads, gradients(loss, latent_d), "D_z")


def test_generator_step_is_eq_7_on_the_edit_and_the_reconstruction(stepped) -> None:
    """E and G minimise Eq. 7: the adversarial, expression and identity terms on the edit
    G(E(x) | u_t), the perceptual term on edit and reconstruction, L1 and MS-SSIM on the
    reconstruction G(E(x) | u_s) against x, E's latent term against D_z; paper weights."""
    method, batch, log, out = stepped
    x, u_s, n = batch.image, batch.aus, len(batch)
    (generator,) = log.of("generator")
    latents, conditions = generator.args
    u_t, reconstruction_condition = conditions.split(n)
    assert torch.equal(reconstruction_condition, u_s)
    assert all(any(torch.equal(row, b) for b in BANK) for row in u_t)  # targets are AU vectors of the bank
    code = log.of("encoder")[0].output
    assert torch.equal(latents, torch.cat([code, code]))

    nets = log.update("encoder").nets  # before E and G move (both step after one backward pass)
    encoder, generator_net, c_exp, c_id = nets["encoder"], nets["generator"], nets["c_exp"], nets["c_id"]
    c_exp.eval()  # a fixed judge: its running statistics
    assert not c_id.training  # the paper's frozen C_id
    code = encoder(x)
    edit, reconstruction = generator_net(code, u_t), generator_net(code, u_s)
    phi = method.phi
    expected = {
        "g_adv": -nets["critic"](edit).mean(),
        "e_adv": -torch.sigmoid(nets["latent_d"](code)).log().mean(),
        "g_exp": cross_entropy_per_au(c_exp(edit), paper_classes(u_t)),
        "g_id": -c_id(edit).log_softmax(1).gather(1, batch.identity[:, None]).mean(),
        "g_per": ((phi(edit) - phi(x)) ** 2).mean() + ((phi(reconstruction) - phi(x)) ** 2).mean(),
        "g_l1": (reconstruction - x).abs().mean(),
        "g_msssim": 1 - ms_ssim(reconstruction, x, method.msssim),
    }
    for name, value in expected.items():
        assert torch.allclose(out[name], value, rtol=1e-4, atol=1e-6), name
    total = sum(WEIGHTS[name] * value for name, value in expected.items())
    assert torch.allclose(out["g_total"], total, rtol=1e-4)
    assert_same_gradients(log.update("encoder").grads, gradients(total, encoder), "E")
    assert_same_gradients(log.update("generator").grads, gradients(total, generator_net), "G")


def test_the_reconstruction_terms_read_the_reconstruction_not_the_edit(stepped) -> None:
    """The recorded edit and reconstruction differ, so L1 on the edit could not pass for L1 on the
    reconstruction: the logged L1 is the reconstruction's, and not the edit's."""
    _, batch, log, out = stepped
    n = len(batch)
    edit, reconstruction = log.of("generator")[0].output.split(n)
    on_reconstruction = (reconstruction - batch.image).abs().mean()
    on_edit = (edit - batch.image).abs().mean()
    assert not torch.isclose(on_edit, on_reconstruction, rtol=1e-3)
    assert torch.isclose(out["g_l1"], on_reconstruction, rtol=1e-5)


@pytest.mark.parametrize("norm", [0.25, 0.8, 1.6, 3.0])
def test_the_penalty_pulls_the_critics_gradient_norm_towards_one(norm: float) -> None:
    """A linear critic with a two-patch score map, D(x) = (w1.x, w2.x): the penalty's gradient is of
    the summed score, so ||dD/dx|| = ||w1 + w2||; the penalty is (||w1 + w2|| - 1)^2, and a small step
    down its gradient moves the norm towards 1 from either side."""
    torch.manual_seed(1)
    direction = torch.randn(2, 3, 4, 4)
    weights = (direction / (direction[0] + direction[1]).norm() * norm).requires_grad_(True)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    mixed = random_interpolate(real, fake)
    assert mixed.requires_grad and not real.requires_grad
    on_segment(mixed, real, fake)
    score = torch.einsum("bchw,kchw->bk", mixed, weights)
    gp = gradient_penalty(score, mixed)
    assert gp.detach().item() == pytest.approx((norm - 1) ** 2, rel=1e-5)
    (grad,) = torch.autograd.grad(gp, weights)
    after = float((weights.detach() - 1e-3 * grad).sum(0).norm())
    assert abs(after - 1) < abs(norm - 1)
