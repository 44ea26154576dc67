"""Each training speed-up of the CPU presets, timed against what it replaced, in one run.

Every change is one benchmark group with a ``before`` and an ``after`` case on the ``quick``
preset's shapes (32 px, batch 32, EGGAN's CPU networks), so `pytest --benchmark-only -k speedups
--benchmark-group-by=group` prints each change's ratio from the same process and machine state.
The changes:

- ``fused_adam``: one fused Adam kernel (``eggan.core.method.adam``) instead of torch's default;
- ``one_forward``: E once and G once on [edit; reconstruction] per iteration, D_img once on
  [real; fake; mixed] (before: E twice, G three times, D_img three calls); D_img is the preset's
  projection critic, so every call passes the AUs;
- ``perceptual_trunk``: the narrow random trunk (``perceptual_width=0.25``) instead of VGG19's;
- ``critic_width``: D_img at width 0.25 instead of 0.5, the networks' width when it was chosen
  (with its gradient penalty);
- ``bf16``: bf16 autocast over E + G (kept off in the presets: the critic with its penalty lost);
- ``compile``: ``torch.compile`` of E and G (timed only: compiling takes minutes);
- ``data``: assembling a batch from the in-memory dataset, against one training iteration (the
  loader's share of the critical path).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from bench_presets import au_bank_split
from eggan_helpers import random_phi

from eggan.core.config import apply_overrides
from eggan.core.gan import gradient_penalty, random_interpolate
from eggan.core.method import DataInfo, adam
from eggan.data.dataset import Batch, load_dataset
from eggan.egg.model import EggAN
from eggan.egg.perceptual import build_perceptual

BATCH = 32


def quick(*overrides: str) -> EggAN:
    config = apply_overrides(EggAN.preset("quick"), list(overrides))
    torch.manual_seed(0)
    size = config.data.image_size
    method = EggAN(config.model, DataInfo(size, 16), 1000, torch.device("cpu"))
    method.setup(au_bank_split())  # type: ignore[arg-type]
    return method


def inputs(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(BATCH, 3, size, size, generator=g) * 2 - 1, torch.rand(BATCH, 17, generator=g) * 5


def e_and_g(method: EggAN, x: torch.Tensor, u: torch.Tensor) -> Callable[[], None]:
    E, G = method.nets["encoder"], method.nets["generator"]

    def run() -> None:
        code = E(x)
        G(torch.cat([code, code]), torch.cat([u, u.flip(0)])).mean().backward()

    return run


def timed(benchmark, group: str, run: Callable[[], object]) -> None:
    benchmark.group = group
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("variant", ["before", "after"])
def test_bench_speedups_fused_adam(benchmark, variant: str) -> None:
    method = quick()
    params = [p for name in ("encoder", "generator") for p in method.nets[name].parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    optimizer = adam(params, 1e-3, (0.5, 0.999)) if variant == "after" else torch.optim.Adam(params, 1e-3)
    timed(benchmark, "fused_adam", optimizer.step)


@pytest.mark.parametrize("variant", ["before", "after"])
def test_bench_speedups_one_forward(benchmark, variant: str) -> None:
    method = quick()
    E, G, D = method.nets["encoder"], method.nets["generator"], method.nets["critic"]
    x, u = inputs()

    def before() -> None:
        with torch.no_grad():
            fake = G(E(x), u)  # the critic's fake
        mixed = random_interpolate(x, fake)
        (D(x, u).mean() - D(fake, u).mean() + gradient_penalty(D(mixed, u), mixed)).backward()
        code = E(x)  # the generator step again
        (D(G(code, u), u).mean() + G(code, u.flip(0)).mean()).backward()

    def after() -> None:
        code = E(x)
        images = G(torch.cat([code, code]), torch.cat([u, u.flip(0)]))
        fake = images[:BATCH].detach()
        mixed = random_interpolate(x, fake)
        real_score, fake_score, mixed_score = D(torch.cat([x, fake, mixed]), torch.cat([u, u, u])).split(BATCH)
        (real_score.mean() - fake_score.mean() + gradient_penalty(mixed_score, mixed)).backward()
        (D(images[:BATCH], u).mean() + images[BATCH:].mean()).backward()

    timed(benchmark, "one_forward", after if variant == "after" else before)


@pytest.mark.parametrize("variant", ["before", "after"])
def test_bench_speedups_perceptual_trunk(benchmark, variant: str) -> None:
    phi = build_perceptual(None, allow_random=True, width=0.25) if variant == "after" else random_phi()
    x, _ = inputs()
    y = x.flip(0).requires_grad_(True)
    timed(benchmark, "perceptual_trunk", lambda: F.mse_loss(phi(y), phi(x)).backward())


@pytest.mark.parametrize("variant", ["before", "after"])
def test_bench_speedups_critic_width(benchmark, variant: str) -> None:
    critic = quick(f"model.critic_width={0.25 if variant == 'after' else 0.5}").nets["critic"]
    x, u = inputs()
    fake = x.flip(0)

    def run() -> None:
        mixed = random_interpolate(x, fake)
        scores = critic(torch.cat([x, fake, mixed]), torch.cat([u, u, u]))
        (scores[:BATCH].mean() - scores[BATCH : 2 * BATCH].mean()
         + gradient_penalty(scores[2 * BATCH :], mixed)).backward()

    timed(benchmark, "critic_width", run)


@pytest.mark.parametrize("variant", ["before", "after"])
def test_bench_speedups_bf16(benchmark, variant: str) -> None:
    method = quick()
    run = e_and_g(method, *inputs())

    def autocast() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            run()

    timed(benchmark, "bf16", autocast if variant == "after" else run)


@pytest.mark.parametrize("variant", [pytest.param("before", marks=pytest.mark.timed_only),
                                     pytest.param("after", marks=pytest.mark.timed_only)])
def test_bench_speedups_compile(benchmark, variant: str) -> None:
    method = quick()
    if variant == "after":
        for name in ("encoder", "generator"):
            method.nets[name] = torch.compile(method.nets[name])
    timed(benchmark, "compile", e_and_g(method, *inputs()))


@pytest.mark.parametrize("variant", ["iteration", "batch"])
def test_bench_speedups_data(benchmark, tiny_dataset: Path, variant: str) -> None:
    """Batches come from uint8 tensors in memory; ``batch`` against ``iteration`` is its share."""
    method = quick()
    train = load_dataset(tiny_dataset, 32).split("train")

    def batch() -> Batch:
        return train.batch(torch.randint(len(train), (BATCH,)))

    timed(benchmark, "data", batch if variant == "batch" else lambda: method.train_step(batch(), 0))
