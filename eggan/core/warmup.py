"""Supervised training of a classifier on the real training images, before an adversarial game.

EGGAN pre-trains C_id this way (the paper and the authors do), and the CPU presets warm up the
classifiers that an adversarial game otherwise trains from scratch while the generator already
depends on them: EGGAN's C_exp and StarGAN's critic head. Without that, a short run spends its
budget with an uninformed classifier (StarGAN's critic head stayed at chance, cross-entropy
ln 8, for the first 600 iterations at 32 px), so the generator never learns to edit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from eggan.core.method import adam
from eggan.data.dataset import FaceDataset

Schedule = Callable[[Optimizer, int, int], LRScheduler]  # (optimizer, total steps, epochs) -> scheduler


def fit_classifier(
    title: str,
    predict: Callable[[torch.Tensor], torch.Tensor],
    parameters: Iterable[nn.Parameter],
    train: FaceDataset,
    labels: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    epochs: int,
    lr: float,
    betas: tuple[float, float],
    batch_size: int,
    device: torch.device,
    log: Callable[[str], None],
    schedule: Schedule | None = None,
) -> float:
    """Train ``predict`` (images -> logits, ``labels`` per training image) for ``epochs`` with its
    own Adam; returns the last epoch's mean accuracy (argmax over the last logit dimension).

    Batches come from a fresh permutation per epoch drawn from torch's global RNG, so a run's
    seed fixes them like everything else.
    """
    batch_size = min(batch_size, len(train))
    per_epoch = len(train) // batch_size
    optimizer = adam(parameters, lr, betas)
    scheduler = schedule(optimizer, per_epoch * epochs, epochs) if schedule is not None else None
    accuracy = 0.0
    for epoch in range(epochs):
        order = torch.randperm(len(train))
        correct = 0.0
        for i in range(per_epoch):
            rows = order[i * batch_size : (i + 1) * batch_size]
            logits = predict(train.batch(rows).image.to(device))
            target = labels[rows].to(device)
            loss = loss_fn(logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            correct += float((logits.argmax(-1) == target).float().mean())
        accuracy = correct / per_epoch
        log(f"{title} pre-training epoch {epoch + 1}/{epochs}: train accuracy {accuracy:.3f}")
    return accuracy
