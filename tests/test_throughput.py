from __future__ import annotations

import pytest
import torch
from standins import KeepSource, PasteTarget, standin

from evaluate.throughput import measure, random_inputs


def test_measure_reports_each_batch_size_and_the_conditions() -> None:
    result = measure(standin(KeepSource, 16), batch_sizes=(1, 4), warmup=1, repeats=3)
    assert [b["batch_size"] for b in result["batches"]] == [1, 4]
    for batch in result["batches"]:
        assert batch["translations_per_s"] == pytest.approx(batch["batch_size"] / batch["seconds_per_batch"])
    assert result["device"]["type"] == "cpu" and result["threads"] == torch.get_num_threads()
    assert result["statistic"] == "median" and result["image_size"] == 16


def test_random_inputs_fill_every_target_field() -> None:
    source, target = random_inputs(3, 16)
    assert source.shape == (3, 3, 16, 16) and source.min() >= -1 and source.max() <= 1
    assert target.aus.shape == (3, 17) and target.expression.shape == (3,) and target.image.shape == source.shape
    # An image-conditioned method gets its field too.
    assert standin(PasteTarget, 16).translate(source, target).shape == source.shape
