"""EGGAN's training iterations/s and generator images/s at the quick (32 px, the preset's CPU
networks) and paper (128 px, the paper's networks at width 1) configurations, batch 8, on the CPU;
the smoke case (32 px) is the one plain `pytest` runs once (bench_presets).

One training round is one full iteration (D_img + C_exp, D_z, E + G). phi is a fixed-seed random
VGG19 (the weights do not change the cost; the generator case builds none) and C_id is not
pre-trained (its stage is not the step's cost). Every case times three rounds after a warm-up round.
"""

from __future__ import annotations

import pytest
import torch
from bench_presets import CASES, SIZES, au_bank_split
from eggan_helpers import random_phi

from eggan.core.method import DataInfo
from eggan.data.dataset import Batch, Target
from eggan.egg.model import EggAN

BATCH = 8


def make(preset: str, perceptual: bool = True) -> tuple[EggAN, Batch]:
    config = EggAN.preset(preset).model
    config.allow_random_vgg, config.no_perceptual = True, not perceptual
    size = SIZES[preset]
    torch.manual_seed(0)
    method = EggAN(config, DataInfo(size, 10), 1000, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    batch = Batch(torch.rand(BATCH, 3, size, size, generator=g) * 2 - 1, torch.rand(BATCH, 17, generator=g) * 5,
                  torch.randint(10, (BATCH,), generator=g), torch.randint(8, (BATCH,), generator=g))

    if perceptual:
        method.phi = random_phi()  # the tests' fixed-seed random VGG19 (one build per process)
    method.setup(au_bank_split(g))  # type: ignore[arg-type]
    return method, batch


@pytest.mark.parametrize("preset", CASES)
def test_bench_eggan_training_iterations(benchmark, rates, preset: str) -> None:
    method, batch = make(preset)
    state = {"step": 0}

    def run() -> None:
        method.train_step(batch, state["step"])
        state["step"] += 1

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert state["step"] >= 1
    rates(iterations=1, images=BATCH)
    benchmark.extra_info["vgg19"] = method.phi.status.weights


@pytest.mark.parametrize("preset", CASES)
def test_bench_eggan_generator(benchmark, rates, preset: str) -> None:
    method, batch = make(preset, perceptual=False)  # translation never runs phi
    target = Target(aus=batch.aus.flip(0))
    out = benchmark.pedantic(lambda: method.translate(batch.image, target), rounds=3, warmup_rounds=1)
    assert out.shape == batch.image.shape
    rates(images=BATCH)
