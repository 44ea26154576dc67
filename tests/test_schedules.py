"""Learning-rate schedules, read off an optimiser step by step as the training loop steps them."""

from __future__ import annotations

import pytest
import torch

from eggan.core.config import apply_overrides
from eggan.core.method import DataInfo
from eggan.core.schedules import epochwise_linear_decay, linear_decay
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
