"""Training iterations/s and translations/s of the three baselines at the quick (32 px, the
preset's CPU networks) and paper (128 px, the authors' networks) configurations, batch 8; the
smoke case (32 px) is the one plain `pytest` runs once (bench_presets).

One training round is one full critic cycle (``n_critic`` iterations, so the generator step is
counted in proportion); HomoInterpGAN's cycle is its E/I period. Every case times three rounds
after a warm-up round.
"""

from __future__ import annotations

import pytest
import torch
from bench_presets import CASES, SIZES, au_bank_split

from eggan.core.method import DataInfo, Method
from eggan.core.registry import get_method
from eggan.data.dataset import Batch, Target

BATCH = 8
METHODS = ("stargan", "homointerp", "ganimation")


def make(name: str, preset: str) -> tuple[Method, Batch, int]:
    """The preset's method (no pre-training stage: its cost is not the step's) and a random batch."""
    config = get_method(name).preset(preset)
    size = SIZES[preset]
    torch.manual_seed(0)
    method = get_method(name)(config.model, DataInfo(size, 10), 1000, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    batch = Batch(torch.rand(BATCH, 3, size, size, generator=g) * 2 - 1, torch.rand(BATCH, 17, generator=g) * 5,
                  torch.zeros(BATCH, dtype=torch.long), torch.randint(8, (BATCH,), generator=g))

    method.setup(au_bank_split(g))  # type: ignore[arg-type]
    cycle = getattr(config.model, "n_critic", None) or config.model.n_discrim
    return method, batch, cycle


@pytest.mark.parametrize("preset", CASES)
@pytest.mark.parametrize("name", METHODS)
def test_bench_training_iterations(benchmark, rates, name: str, preset: str) -> None:
    method, batch, cycle = make(name, preset)
    state = {"step": 0}

    def run() -> None:
        for _ in range(cycle):
            method.train_step(batch, state["step"])
            state["step"] += 1

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert state["step"] >= cycle
    rates(iterations=cycle, images=cycle * BATCH)


@pytest.mark.parametrize("preset", CASES)
@pytest.mark.parametrize("name", METHODS)
def test_bench_translations(benchmark, rates, name: str, preset: str) -> None:
    method, batch, _ = make(name, preset)
    target = Target.from_batch(Batch(batch.image.flip(0), batch.aus.flip(0), batch.identity, batch.expression.flip(0)))
    out = benchmark.pedantic(lambda: method.translate(batch.image, target), rounds=3, warmup_rounds=1)
    assert out.shape == batch.image.shape
    rates(images=BATCH)
