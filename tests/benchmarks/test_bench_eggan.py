"""EGGAN's training iterations/s and generator images/s at the quick (64 px, the preset's CPU
networks) and paper (128 px, the paper's networks at width 1) configurations, batch 8, on the CPU.

One training round is one full iteration (D_img + C_exp, D_z, E + G). phi is a fixed-seed random
VGG19 (the weights do not change the cost) and C_id is not pre-trained (its stage is not the
step's cost). Paper-size training is one round: on 2 CPU cores an iteration takes tens of seconds.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from eggan.data.dataset import Batch, Target
from eggan.method import DataInfo
from eggan.model import EggAN

BATCH = 8
PRESETS = {"quick": 64, "paper": 128}


def make(preset: str) -> tuple[EggAN, Batch]:
    config = EggAN.preset(preset).model
    config.allow_random_vgg = True
    size = PRESETS[preset]
    torch.manual_seed(0)
    method = EggAN(config, DataInfo(size, 10), 1000, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    batch = Batch(torch.rand(BATCH, 3, size, size, generator=g) * 2 - 1, torch.rand(BATCH, 17, generator=g) * 5,
                  torch.randint(10, (BATCH,), generator=g), torch.randint(8, (BATCH,), generator=g))

    class Split:  # what setup reads: the AU bank of random targets
        aus = torch.rand(64, 17, generator=g) * 5

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random-VGG19 warning
        method.setup(Split())  # type: ignore[arg-type]
    return method, batch


@pytest.mark.slow
@pytest.mark.parametrize("preset", list(PRESETS))
def test_bench_eggan_training_iterations(benchmark, preset: str) -> None:
    method, batch = make(preset)
    state = {"step": 0}

    def run() -> None:
        method.train_step(batch, state["step"])
        state["step"] += 1

    quick = preset == "quick"
    benchmark.pedantic(run, rounds=3 if quick else 1, warmup_rounds=1 if quick else 0)
    per_s = 1 / benchmark.stats.stats.mean
    benchmark.extra_info.update(iterations_per_s=per_s, seconds_per_iteration=1 / per_s, images_per_s=per_s * BATCH,
                                threads=torch.get_num_threads(), vgg19=method.phi.status.weights)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_bench_eggan_generator(benchmark, preset: str) -> None:
    method, batch = make(preset)
    target = Target(aus=batch.aus.flip(0))
    benchmark.pedantic(lambda: method.translate(batch.image, target), rounds=3, warmup_rounds=1)
    benchmark.extra_info.update(images_per_s=BATCH / benchmark.stats.stats.mean, threads=torch.get_num_threads())
