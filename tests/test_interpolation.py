"""The interpolation response (evaluate.interpolation): exact on stand-ins whose frames are known."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from standins import KeepSource, PasteTarget, standin

from eggan.data.dataset import Target, load_dataset
from eggan.errors import ConfigError
from evaluate.au import AUEstimator, AUReading
from evaluate.interpolation import MIN_CHANGE, interpolation_response
from evaluate.pairs import make_pairs


class WritesAUs(KeepSource):
    """Writes ``gain`` times the asked AU vector into the first pixels: an exactly readable edit."""

    gain = 1.0

    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        out = source.clone()
        out[:, 0, 0, :17] = (self.gain * target.aus / 5) * 2 - 1
        return out


class HalfWay(WritesAUs):
    gain = 0.5


class ReadsAUs(AUEstimator):
    """The inverse of ``WritesAUs``: reads the AU vector back from the first pixels."""

    name = "pixel-reader"

    def estimate(self, images: torch.Tensor, keys: Sequence[str]) -> AUReading:
        return AUReading((images[:, 0, 0, :17] + 1) / 2 * 5, torch.ones(len(images), dtype=torch.bool))

    def metadata(self) -> dict:
        return {"name": self.name}


@pytest.fixture(scope="module")
def data(tiny_dataset: Path):
    dataset = load_dataset(tiny_dataset, 32)
    return dataset, make_pairs(dataset)


@pytest.mark.parametrize(("kind", "gain"), [(WritesAUs, 1.0), (HalfWay, 0.5), (KeepSource, 0.0)])
def test_response_is_the_share_of_the_asked_change_the_frames_move(data, kind, gain) -> None:
    dataset, pairs = data
    result = interpolation_response(standin(kind, 32), dataset, pairs, ReadsAUs(), steps=5, count=20)
    assert result["alphas"] == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    # Frames move by gain * alpha of the asked change (the 8-bit-free pixel path is exact to float error).
    np.testing.assert_allclose(result["mean"], [gain * a for a in result["alphas"]], atol=1e-5)
    np.testing.assert_allclose(result["median"], [gain * a for a in result["alphas"]], atol=1e-5)
    assert result["monotone_share"] == 1.0
    assert 0 < result["n_pairs"] <= 20


def test_pairs_with_a_small_asked_change_are_left_out(data) -> None:
    dataset, pairs = data
    aus = dataset.aus
    rows = {p: i for i, p in enumerate(dataset.table["path"])}
    change = torch.stack([aus[rows[t]] - aus[rows[s]] for s, t in zip(pairs["source_path"], pairs["target_path"],
                                                                        strict=True)])
    expected = int((change.norm(dim=1) >= MIN_CHANGE).sum())
    result = interpolation_response(standin(WritesAUs, 32), dataset, pairs, ReadsAUs(), steps=3, count=len(pairs))
    assert result["n_pairs"] == expected


def test_a_response_that_turns_back_is_not_monotone(data) -> None:
    """Frames for alpha 0, 0.5, 1 that move by 0, 1 and 0.5 of the asked change: every pair turns back."""
    dataset, pairs = data
    method = standin(WritesAUs, 32)
    write = method.generate
    frames: list[torch.Tensor] = []  # the asked AUs per frame; the first is the source's

    def overshoot(source: torch.Tensor, target: Target) -> torch.Tensor:
        frames.append(target.aus)
        factor = (0.0, 2.0, 0.5)[len(frames) - 1]
        return write(source, Target(aus=frames[0] + factor * (target.aus - frames[0])))

    method.generate = overshoot  # type: ignore[method-assign]
    result = interpolation_response(method, dataset, pairs, ReadsAUs(), steps=3, count=8, batch_size=8)
    np.testing.assert_allclose(result["mean"], [0.0, 1.0, 0.5], atol=1e-5)
    assert result["monotone_share"] == 0.0


def test_methods_not_conditioned_on_aus_are_refused(data) -> None:
    dataset, pairs = data
    with pytest.raises(ConfigError, match="conditioned on AU vectors"):
        interpolation_response(standin(PasteTarget, 32), dataset, pairs, ReadsAUs(), count=4)
