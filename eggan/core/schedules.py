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


def epochwise_linear_decay(optimizer: Optimizer, total_steps: int, epochs: int, decay_epoch: int) -> LambdaLR:
    """The EGGAN authors' schedule, per training iteration: a run of ``total_steps`` is split into
    ``epochs`` equal epochs and epoch e trains at ``1 - max(0, e + 1 - decay_epoch) / (epochs -
    decay_epoch)``. Their scheduler steps at the start of each epoch, before training it, so the
    rate is one epoch ahead and the last epoch trains at 0 (an off-by-one kept on purpose).
    """
    per_epoch = max(1, total_steps // max(1, epochs))
    span = max(1, epochs - decay_epoch)

    def factor(step: int) -> float:
        epoch = min(step // per_epoch, epochs - 1)
        return max(0.0, 1.0 - max(0, epoch + 1 - decay_epoch) / span)

    return LambdaLR(optimizer, factor)
