"""Learning-rate schedules, read off an optimiser step by step as the training loop steps them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from method_checks import smoke_config

from eggan.core.config import apply_overrides
from eggan.core.distributed import DistEnv
from eggan.core.method import DataInfo
from eggan.core.registry import get_method
from eggan.core.schedules import epochwise_linear_decay, linear_decay
from eggan.core.train import DataOrder, total_steps, train_run
from eggan.egg.model import EggAN


def rates(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> list[float]:
    """The learning rate each of ``steps`` training iterations runs at (stepped after each one)."""
    optimizer, out = scheduler.optimizer, []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def sgd(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def test_epochwise_decay_runs_one_epoch_ahead_so_the_last_epoch_trains_at_zero() -> None:
    """The authors as run: 16 epochs, decay from epoch 8, factor 1 - max(0, e - 8) / 8 set at the start
    of epoch e by a scheduler that has already stepped once: epoch e trains at the factor of e + 1."""
    assert rates(epochwise_linear_decay(sgd(), 16, 16, 8), 16) == pytest.approx(
        [1.0] * 8 + [7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8, 0.0])
    # Epochs of several iterations: the rate is constant within one.
    assert rates(epochwise_linear_decay(sgd(), 8, 4, 2), 8) == pytest.approx([1, 1, 1, 1, 0.5, 0.5, 0, 0])


def test_linear_decay_starts_at_decay_start_and_never_reaches_zero_in_the_run() -> None:
    assert rates(linear_decay(sgd(), 8, 4), 8) == pytest.approx([1, 1, 1, 1, 1, 0.75, 0.5, 0.25])


def test_eggan_decay_start_one_holds_the_rate_all_run_and_only_quick_sets_it() -> None:
    """model.decay_start=1 (the quick preset): every one of 64 iterations at the full rate, E/G/D and
    C_exp alike; standard and paper keep the paper's decay from half the run (its rates:
    test_eggan_schedules_by_variant)."""
    config = apply_overrides(EggAN.preset("smoke"), ["model.decay_start=1.0", "model.no_perceptual=true"])
    method = EggAN(config.model, DataInfo(32, 4), 64, torch.device("cpu"))
    for name, scheduler in method.schedulers.items():
        assert rates(scheduler, 64) == pytest.approx([config.model.lr_exp if name == "c_exp" else config.model.lr] * 64)
    assert [EggAN.preset(p).model.decay_start for p in ("quick", "standard", "paper")] == [1.0, 0.5, 0.5]


@pytest.mark.parametrize(("variant", "last_epoch"), [("paper", [2 / 32, 1 / 32]), ("official", [0.0, 0.0])])
def test_eggan_schedules_by_variant(variant: str, last_epoch: list[float]) -> None:
    """64 iterations: the paper decays per iteration after half; the authors' 16 epochs of 4
    iterations end with one at rate 0."""
    config = apply_overrides(EggAN.preset("smoke"), [f"model.variant={variant}", "model.no_perceptual=true"])
    method = EggAN(config.model, DataInfo(32, 4), 64, torch.device("cpu"))
    lr = config.model.lr
    for name, scheduler in method.schedulers.items():
        base = config.model.lr_exp if name == "c_exp" else lr
        seen = [r / base for r in rates(scheduler, 64)]
        assert seen[:32] == pytest.approx([1.0] * 32) and seen[-2:] == pytest.approx(last_epoch), name
        if variant == "official":
            assert seen[-4:] == pytest.approx([0.0] * 4) and seen[-5] == pytest.approx(1 / 8), name


# The papers' schedules as factors of the base rate at each iteration of an 8-iteration run:
# EGGAN and StarGAN decay linearly to 0 over the second half (EGGAN 4.1; StarGAN's 100 + 100 epochs),
# GANimation over the last 10 of its 30 epochs, HomoInterpGAN never decays.
WHOLE_RUN = {
    "eggan": [1, 1, 1, 1, 1, 3 / 4, 2 / 4, 1 / 4],
    "stargan": [1, 1, 1, 1, 1, 3 / 4, 2 / 4, 1 / 4],
    "ganimation": [1, 1, 1, 1, 1, 1, 2 / 3, 1 / 3],
    "homointerp": [1] * 8,
}
BASE_RATES = {  # the smoke presets' rates: (optimiser names, rate), as the configs say
    "eggan": {("encoder", "generator", "critic", "latent_d"): "lr", ("c_exp",): "lr_exp"},
    "stargan": {("G", "D"): "lr"},
    "ganimation": {("G", "D"): "lr"},
    "homointerp": {("E", "I", "D", "G", "KGT"): "lr"},
}


@pytest.mark.parametrize("name", sorted(WHOLE_RUN))
def test_every_optimiser_follows_its_papers_schedule_over_a_whole_run(
        name: str, tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate each optimiser runs at in each iteration of a whole training run (read inside the
    method's step, so the loop's stepping of the schedulers is part of what is checked)."""
    method_class = get_method(name)
    original = method_class.train_step
    seen: list[dict[str, float]] = []

    def train_step(self, batch, step):
        seen.append({opt: optimizer.param_groups[0]["lr"] for opt, optimizer in self.optimizers.items()})
        return original(self, batch, step)

    monkeypatch.setattr(method_class, "train_step", train_step)
    overrides = ("model.no_perceptual=true",) if name == "eggan" else ()
    config = smoke_config(name, tiny_dataset, "train.steps=8", *overrides)
    train_run(config, tmp_path)
    assert len(seen) == 8
    for optimisers, field in BASE_RATES[name].items():
        base = getattr(config.model, field)
        for opt in optimisers:
            assert [rates[opt] / base for rates in seen] == pytest.approx(WHOLE_RUN[name]), opt
    assert set(seen[0]) == {opt for optimisers in BASE_RATES[name] for opt in optimisers}


@pytest.mark.parametrize(("name", "epochs", "decay_epoch"), [
    ("eggan", 400, 200), ("stargan", 200, 100), ("ganimation", 30, 20), ("homointerp", 400, None)])
def test_the_paper_presets_decay_from_the_papers_epoch(name: str, epochs: int, decay_epoch: int | None) -> None:
    """The paper preset's run length in epochs and where its rate starts to fall (HomoInterpGAN: never),
    on a training split of 2 batches per epoch; a decaying rate reaches 0 at the end of the run."""
    config = get_method(name).preset("paper")
    per_epoch = 2
    order = DataOrder(per_epoch * config.train.batch_size, config.train.batch_size, DistEnv(), seed=0)
    steps = total_steps(config, order)
    assert (config.train.epochs, steps) == (epochs, epochs * per_epoch)
    if name == "eggan":
        config.model.width, config.model.classifier_depth = 1 / 16, (1, 1, 1, 1, 1)
    elif name == "homointerp":
        config.model.width = 1 / 16
    method = get_method(name)(config.model, DataInfo(32, 4), steps, torch.device("cpu"))
    for scheduler in method.schedulers.values():
        factors = rates(scheduler, steps)
        base = factors[0]
        factors = [f / base for f in factors]
        if decay_epoch is None:
            assert factors == pytest.approx([1.0] * steps)
            continue
        start = decay_epoch * per_epoch
        assert factors[:start + 1] == pytest.approx([1.0] * (start + 1))
        span = steps - start
        assert factors[start:] == pytest.approx([1 - k / span for k in range(span)])
