"""Learning-rate schedules shared by the methods (stepped once per training iteration)."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def linear_decay(optimizer: Optimizer, total_steps: int, decay_start: int) -> LambdaLR:
    """Constant learning rate until ``decay_start``, then linear decay reaching 0 at ``total_steps``.

    The paper's "decays linearly after half of the epochs" is ``decay_start = total_steps // 2``.
    """
    span = max(1, total_steps - decay_start)

    def factor(step: int) -> float:
        return 1.0 if step < decay_start else max(0.0, 1.0 - (step - decay_start) / span)

    return LambdaLR(optimizer, factor)


def constant(optimizer: Optimizer) -> LambdaLR:
    """A schedule that never changes the rate (kept as a scheduler so every method checkpoints alike)."""
    return LambdaLR(optimizer, lambda step: 1.0)
