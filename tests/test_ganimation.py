"""GANimation: the authors' networks and losses, AU targets, the Method contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from method_checks import (
    build,
    check_ddp_replicas_agree,
    check_resume_is_exact,
    check_state_round_trip,
    check_translate_contract,
)

from baselines.ganimation import GANimation
from baselines.ganimation_nets import Generator, compose, critic, smoothness
from eggan.core.method import DataInfo
from eggan.data.dataset import Target

# StarGAN's networks with 17 AU planes instead of 8 label planes and GANimation's extra heads:
STARGAN_G, STARGAN_D = 8_439_936, 44_786_624
GANIMATION_G = STARGAN_G + (17 - 8) * 64 * 7 * 7 + 64 * 7 * 7  # wider input conv + attention head
GANIMATION_D = STARGAN_D + (17 - 8) * 2048 * 2 * 2  # AU regression head instead of 8 logits


def test_paper_preset_is_the_authors_configuration() -> None:
    config = GANimation.preset("paper")
    method = GANimation(config.model, DataInfo(128, 10), 1000, torch.device("cpu"))
    assert method.metadata()["parameters"] == {"G": GANIMATION_G, "D": GANIMATION_D} == {
        "G": 8_471_296, "D": 44_860_352}
    G, D = method.nets["G"], method.nets["D"]
    assert G.img_reg[0].weight.shape == (3, 64, 7, 7) and G.attetion_reg[0].weight.shape == (1, 64, 7, 7)
    assert G.main[0].weight.shape == (64, 3 + 17, 7, 7)
    assert D.conv1.weight.shape == (1, 2048, 3, 3) and D.conv2.weight.shape == (17, 2048, 2, 2)
    assert abs(D.main[0].weight.std().item() - 0.02) < 0.002  # N(0, 0.02) initialisation
    m = config.model
    weights = (m.lambda_d_prob, m.lambda_d_cond, m.lambda_cyc, m.lambda_mask, m.lambda_mask_smooth, m.lambda_gp)
    assert weights == (1, 4000, 10, 0.1, 1e-5, 10) and m.n_critic == 5
    assert (config.train.batch_size, config.train.epochs, config.data.hflip) == (25, 30, True)


def test_learning_rate_constant_then_linear_to_zero() -> None:
    config = GANimation.preset("smoke").model
    method = GANimation(config, DataInfo(32, 4), 30, torch.device("cpu"))
    rates = []
    for _ in range(30):
        rates.append(method.optimizers["G"].param_groups[0]["lr"])
        method.optimizers["G"].step()
        method.schedulers["G"].step()
    assert rates[:20] == [1e-4] * 20 and rates[20] == 1e-4 and rates[29] < 1e-5 and sorted(rates[20:]) == rates[:19:-1]


def test_generator_heads_and_composition() -> None:
    torch.manual_seed(0)
    G = Generator(8, 17, 1)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    colour, attention = G(x, torch.rand(2, 17))
    assert colour.shape == (2, 3, 32, 32) and attention.shape == (2, 1, 32, 32)
    assert colour.abs().max() <= 1 and attention.min() >= 0 and attention.max() <= 1
    assert torch.equal(compose(x, colour, torch.ones_like(attention)), x)
    assert torch.equal(compose(x, colour, torch.zeros_like(attention)), colour)
    mask = torch.zeros(1, 1, 3, 3)
    mask[0, 0, 1, 1] = 1
    assert smoothness(mask).item() == 4  # four neighbour differences of 1
    src, aus = critic(32, 8, 17, 4)(x)
    assert src.shape == (2, 1, 2, 2) and aus.shape == (2, 17)


def test_targets_come_from_the_au_bank_plus_noise(tiny_dataset: Path) -> None:
    method, train = build("ganimation", tiny_dataset)
    bank = train.aus / 5
    assert torch.equal(method.au_bank, bank)
    targets = method.sample_targets(500)
    nearest = (targets[:, None, :] - bank[None]).abs().amax(-1).min(1).values
    assert nearest.max() <= 0.1 + 1e-6 and nearest.mean() > 0.02


def test_generate_divides_aus_by_five(tiny_dataset: Path) -> None:
    method, train = build("ganimation", tiny_dataset)
    batch = train.batch(torch.arange(4))
    out = method.translate(batch.image, Target(aus=batch.aus))
    method.nets.eval()
    with torch.no_grad():
        expected = compose(batch.image, *method.nets["G"](batch.image, batch.aus / 5))
    assert torch.allclose(out, expected.clamp(-1, 1))


def cycle_loss(method: GANimation, x: torch.Tensor, aus: torch.Tensor) -> float:
    G = method.nets["G"]
    with torch.no_grad():
        fake = compose(x, *G(x, aus.roll(1, 0) / 5))
        return (compose(fake, *G(fake, aus / 5)) - x).abs().mean().item()


def test_training_reduces_the_cycle_loss(tiny_dataset: Path) -> None:
    method, train = build("ganimation", tiny_dataset, overrides=("model.n_critic=1", "model.lr=1e-3"))
    batch = train.batch(torch.arange(8))
    before = cycle_loss(method, batch.image, batch.aus)
    for step in range(15):
        losses = method.train_step(batch, step)
    assert {"d_gp", "d_cond", "g_cyc", "g_mask", "g_smooth", "g_cond"} <= set(losses)
    assert cycle_loss(method, batch.image, batch.aus) < 0.7 * before


def test_method_contract(tiny_dataset: Path, tmp_path: Path) -> None:
    method, train = build("ganimation", tiny_dataset)
    batch = train.batch(torch.arange(4))
    check_translate_contract(method, batch)
    check_state_round_trip("ganimation", tiny_dataset, batch)
    check_resume_is_exact("ganimation", tiny_dataset, tmp_path, steps=10)


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_two_processes_keep_replicas_identical(tiny_dataset: Path, tmp_path: Path) -> None:
    check_ddp_replicas_agree("ganimation", tiny_dataset, tmp_path)
