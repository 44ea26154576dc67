"""What every benchmark shares: a fixed thread count, and rates recorded only when a run was timed.

Plain `pytest` runs each benchmark case once, untimed (``tests/conftest.py``), so the benchmark
code cannot rot; `pytest --benchmark-only` times every case. A new benchmark file needs nothing but
the ``benchmark`` fixture, ``rates`` for its per-second figures, and the ``timed_only`` marker on
cases too slow to run once in CI, keeping one small case per function unmarked (as
``bench_presets.CASES`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

THREADS = 2  # torch's intra-op threads in every case: figures from machines with more cores compare


@pytest.fixture(autouse=True)
def fixed_threads(benchmark) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    benchmark.extra_info["threads"] = THREADS
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def rates(benchmark) -> Callable[..., None]:
    """``rates(images=8, iterations=1)`` records ``images_per_s`` etc.: each count per round divided
    by the mean round time; nothing when the run was not timed."""

    def record(**per_round: float) -> None:
        if benchmark.stats is not None:
            mean = benchmark.stats.stats.mean
            benchmark.extra_info.update({f"{name}_per_s": count / mean for name, count in per_round.items()})

    return record
