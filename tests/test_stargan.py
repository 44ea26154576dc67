"""StarGAN: the authors' networks and checkpoints, their training step, the Method contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from method_checks import (
    build,
    check_ddp_replicas_agree,
    check_resume_is_exact,
    check_state_round_trip,
    check_translate_contract,
)

from baselines.stargan import StarGAN, load_authors_checkpoint, repo_decay
from baselines.stargan_nets import Discriminator, Generator
from eggan.core.method import DataInfo, count_parameters
from eggan.core.schedules import linear_decay
from eggan.data.dataset import Target
from eggan.errors import CheckpointError, DataError


def test_paper_preset_is_the_authors_configuration() -> None:
    config = StarGAN.preset("paper")
    method = StarGAN(config.model, DataInfo(128, 10), 1000, torch.device("cpu"))
    assert method.metadata()["parameters"] == {"G": 8_439_936, "D": 44_786_624}
    assert count_parameters(Discriminator(64, 64, 8, 6)) == 44_737_472  # the authors' D at 64 px
    assert (config.data.image_size, config.train.batch_size, config.data.hflip) == (128, 16, True)
    adam = method.optimizers["G"].param_groups[0]
    assert (adam["lr"], adam["betas"]) == (1e-4, (0.5, 0.999))
    m = config.model
    assert (m.n_critic, m.lambda_cls, m.lambda_rec, m.lambda_gp, m.lr_schedule) == (5, 1, 10, 10, "paper")


def authors_generator_keys() -> list[str]:
    """The key list of stargan.md (128 px, c_dim 8), generated from its pattern."""
    norm = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["main.0.weight", *(f"main.1.{k}" for k in norm)]
    for conv in (3, 6):
        keys += [f"main.{conv}.weight", *(f"main.{conv + 1}.{k}" for k in norm)]
    for block in range(9, 15):
        for conv in (0, 3):
            keys += [f"main.{block}.main.{conv}.weight", *(f"main.{block}.main.{conv + 1}.{k}" for k in norm)]
    for conv in (15, 18):
        keys += [f"main.{conv}.weight", *(f"main.{conv + 1}.{k}" for k in norm)]
    return [*keys, "main.21.weight"]


def test_state_dicts_use_the_authors_names_and_shapes() -> None:
    g, d = Generator().state_dict(), Discriminator().state_dict()
    assert list(g) == authors_generator_keys()
    assert g["main.0.weight"].shape == (64, 11, 7, 7) and g["main.15.weight"].shape == (256, 128, 4, 4)
    expected_d = [f"main.{i}.{k}" for i in range(0, 12, 2) for k in ("weight", "bias")]
    assert list(d) == [*expected_d, "conv1.weight", "conv2.weight"]
    assert d["conv1.weight"].shape == (1, 2048, 3, 3) and d["conv2.weight"].shape == (8, 2048, 2, 2)


def reference_generator(state: dict[str, torch.Tensor], x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The authors' G forward written out from their state dict (per-instance statistics)."""

    def norm(h: torch.Tensor, i: int | str) -> torch.Tensor:
        return F.instance_norm(h, weight=state[f"main.{i}.weight"], bias=state[f"main.{i}.bias"], eps=1e-5)

    h = torch.cat([x, c[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
    h = F.relu(norm(F.conv2d(h, state["main.0.weight"], padding=3), 1))
    for i in (3, 6):
        h = F.relu(norm(F.conv2d(h, state[f"main.{i}.weight"], stride=2, padding=1), i + 1))
    for b in range(9, 15):
        r = F.relu(norm(F.conv2d(h, state[f"main.{b}.main.0.weight"], padding=1), f"{b}.main.1"))
        h = h + norm(F.conv2d(r, state[f"main.{b}.main.3.weight"], padding=1), f"{b}.main.4")
    for i in (15, 18):
        h = F.relu(norm(F.conv_transpose2d(h, state[f"main.{i}.weight"], stride=2, padding=1), i + 1))
    return torch.tanh(F.conv2d(h, state["main.21.weight"], padding=3))


def test_authors_checkpoint_loads_unchanged_and_matches_their_forward(tmp_path: Path) -> None:
    torch.manual_seed(0)
    G, D = Generator(), Discriminator()
    with torch.no_grad():  # make every parameter and buffer matter
        for p in [*G.parameters(), *D.parameters()]:
            p.add_(torch.randn_like(p) * 0.01)
        G(torch.randn(2, 3, 32, 32), torch.eye(8)[:2])  # training mode: moves the running statistics
    torch.save(G.state_dict(), tmp_path / "200000-G.ckpt")
    torch.save(D.state_dict(), tmp_path / "200000-D.ckpt")
    G2, D2 = load_authors_checkpoint(tmp_path / "200000-G.ckpt", tmp_path / "200000-D.ckpt")
    for mine, theirs in ((G2, G), (D2, D)):
        for key, value in theirs.state_dict().items():
            assert torch.equal(mine.state_dict()[key], value), key
    x, c = torch.rand(2, 3, 32, 32) * 2 - 1, torch.eye(8)[[3, 5]]
    with torch.no_grad():
        assert torch.allclose(G2(x, c), reference_generator(G.state_dict(), x, c), atol=1e-5)
        x = torch.rand(1, 3, 128, 128) * 2 - 1
        src, cls = D2(x)
        assert src.shape == (1, 1, 2, 2) and cls.shape == (1, 8)
        assert torch.equal(src, D(x)[0]) and torch.equal(cls, D(x)[1])
    with pytest.raises(CheckpointError, match="not an authors' StarGAN state dict"):
        load_authors_checkpoint(tmp_path / "200000-D.ckpt")


def test_generator_uses_instance_statistics_in_train_and_eval_mode() -> None:
    torch.manual_seed(0)
    G = Generator(8, 8, 1)
    x, c = torch.randn(3, 3, 32, 32), torch.eye(8)[:3]
    before = G.main[1].running_mean.clone()
    train_out = G(x, c)
    assert not torch.equal(G.main[1].running_mean, before)  # running stats move in training, as theirs
    G.eval()
    frozen = G.main[1].running_mean.clone()
    assert torch.equal(G(x, c), train_out)
    assert torch.equal(G.main[1].running_mean, frozen)


def test_lr_schedules() -> None:
    def rates(make) -> list[float]:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
        sched, out = make(opt), []
        for _ in range(4000):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    repo = rates(lambda opt: repo_decay(opt, 4000))
    assert repo[2999] == 1e-4 and repo[3000] == pytest.approx(1e-4 * (1 - 1 / 2000))
    assert repo[-1] == pytest.approx(1e-4 * (1 - 1 / 2000)) and min(repo) > 0.99e-4
    paper = rates(lambda opt: linear_decay(opt, 4000, 2000))
    assert paper[1999] == 1e-4 and paper[-1] == pytest.approx(1e-4 / 2000)


def cycle_loss(method: StarGAN, x: torch.Tensor, labels: torch.Tensor) -> float:
    G = method.nets["G"]
    with torch.no_grad():
        fake = G(x, method.one_hot(labels.roll(1)))
        return (G(fake, method.one_hot(labels)) - x).abs().mean().item()


def test_training_reduces_the_cycle_loss(tiny_dataset: Path) -> None:
    method, train = build("stargan", tiny_dataset, overrides=("model.n_critic=1", "model.lr=1e-3"))
    batch = train.batch(torch.arange(8))
    before = cycle_loss(method, batch.image, batch.expression)
    for step in range(15):
        losses = method.train_step(batch, step)
    assert set(losses) == {"d_real", "d_fake", "d_cls", "d_gp", "g_fake", "g_cls", "g_rec"}
    assert cycle_loss(method, batch.image, batch.expression) < 0.7 * before


def test_generator_steps_every_n_critic_iterations(tiny_dataset: Path) -> None:
    method, train = build("stargan", tiny_dataset)
    batch = train.batch(torch.arange(4))
    g_steps = [("g_rec" in method.train_step(batch, step)) for step in range(10)]
    assert g_steps == [False, False, False, False, True] * 2


def test_method_contract(tiny_dataset: Path, tmp_path: Path) -> None:
    method, train = build("stargan", tiny_dataset)
    batch = train.batch(torch.arange(4))
    check_translate_contract(method, batch)
    bad = Target(expression=torch.full((4,), -1))
    with pytest.raises(DataError, match="StarGAN needs an expression label"):
        method.translate(batch.image, bad)
    check_state_round_trip("stargan", tiny_dataset, batch)
    check_resume_is_exact("stargan", tiny_dataset, tmp_path, steps=10)


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_two_processes_keep_replicas_identical(tiny_dataset: Path, tmp_path: Path) -> None:
    check_ddp_replicas_agree("stargan", tiny_dataset, tmp_path)
