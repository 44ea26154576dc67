from __future__ import annotations

import pytest
import torch
from standins import KeepSource, PasteTarget, standin

from evaluate import throughput
from evaluate.throughput import measure, random_inputs


class Clock:
    """A perf_counter that moves only when a translation "takes" time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_measure_reports_the_median_timed_call_after_the_warmup(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(throughput.time, "perf_counter", clock)
    # Per batch size: two slow warm-up calls (not timed), then three timed ones.
    durations = iter([9.0, 9.0, 0.5, 0.125, 0.25,  # batch 1: median 0.25 s -> 4 translations/s
                      9.0, 9.0, 1.0, 0.5, 2.0])  # batch 4: median 1 s -> 4 translations/s

    class Timed(KeepSource):
        def generate(self, source: torch.Tensor, target) -> torch.Tensor:
            clock.now += next(durations)
            return source

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = measure(standin(Timed, 16), batch_sizes=(1, 4), warmup=2, repeats=3)
    finally:
        torch.set_num_threads(threads)
    assert result["batches"] == [{"batch_size": 1, "seconds_per_batch": 0.25, "translations_per_s": 4.0},
                                 {"batch_size": 4, "seconds_per_batch": 1.0, "translations_per_s": 4.0}]
    assert next(durations, None) is None  # no call more, no call less
    assert result["device"]["type"] == "cpu" and result["threads"] == 1 and result["dtype"] == "float32"
    assert (result["statistic"], result["warmup"], result["repeats"], result["image_size"]) == ("median", 2, 3, 16)


def test_random_inputs_fill_every_target_field() -> None:
    source, target = random_inputs(3, 16)
    assert source.shape == (3, 3, 16, 16) and source.min() >= -1 and source.max() <= 1
    assert target.aus.shape == (3, 17) and target.expression.shape == (3,) and target.image.shape == source.shape
    # An image-conditioned method gets its field too.
    assert standin(PasteTarget, 16).translate(source, target).shape == source.shape
