"""Rendering speed of SynthFACS (images/s), the cost of a fresh dataset on a new machine (plain
`pytest` renders a few images once; the timed cases render 200 at 64 px and 8 at 128 px)."""

from __future__ import annotations

import pytest
import torch

from eggan.data.aus import N_AUS
from eggan.data.face import render_faces
from eggan.data.identity import sample_identities


def _render(size: int, count: int) -> torch.Tensor:
    people = sample_identities(0, 16).select([i % 16 for i in range(count)])
    aus = torch.rand(count, N_AUS, generator=torch.Generator().manual_seed(0)) * 5
    return render_faces(people, aus, size)


@pytest.mark.parametrize("count", [16, pytest.param(200, marks=pytest.mark.timed_only)])
def test_bench_render_64(benchmark, rates, count: int) -> None:
    images = benchmark.pedantic(_render, args=(64, count), rounds=3, warmup_rounds=1)
    assert images.shape == (count, 3, 64, 64)
    rates(images=count)


@pytest.mark.parametrize("count", [2, pytest.param(8, marks=pytest.mark.timed_only)])
def test_bench_render_128(benchmark, rates, count: int) -> None:
    images = benchmark.pedantic(_render, args=(128, count), rounds=3, warmup_rounds=1)
    assert images.shape == (count, 3, 128, 128)
    rates(images=count)
