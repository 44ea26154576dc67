"""Rendering speed of SynthFACS (images/s), the cost of a fresh dataset on a new machine."""

from __future__ import annotations

import torch

from eggan.aus import N_AUS
from eggan.data.face import render_faces
from eggan.data.identity import sample_identities


def _render(size: int, count: int) -> torch.Tensor:
    people = sample_identities(0, 16).select([i % 16 for i in range(count)])
    aus = torch.rand(count, N_AUS, generator=torch.Generator().manual_seed(0)) * 5
    return render_faces(people, aus, size)


def test_bench_render_64(benchmark) -> None:
    count = 200
    images = benchmark.pedantic(_render, args=(64, count), rounds=3, warmup_rounds=1)
    assert images.shape == (count, 3, 64, 64)
    benchmark.extra_info["images_per_s"] = count / benchmark.stats.stats.mean
    benchmark.extra_info["threads"] = torch.get_num_threads()


def test_bench_render_128(benchmark) -> None:
    count = 8
    images = benchmark.pedantic(_render, args=(128, count), rounds=3, warmup_rounds=1)
    assert images.shape == (count, 3, 128, 128)
    benchmark.extra_info["images_per_s"] = count / benchmark.stats.stats.mean
