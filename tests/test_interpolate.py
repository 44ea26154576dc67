"""Eq. 8 interpolation: frame count and order, end points, errors, and the saved strip."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from eggan_helpers import smoke_model, smoke_synthfacs
from PIL import Image

from eggan.core.interpolate import interpolate, save_strip
from eggan.data.dataset import FaceDataset, Target
from eggan.errors import ConfigError


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory) -> FaceDataset:
    return smoke_synthfacs(tmp_path_factory.mktemp("synth")).split("train")


def test_frames_run_from_the_source_aus_to_the_target_aus(train: FaceDataset) -> None:
    method = smoke_model(train, "model.no_perceptual=true")
    batch = train.batch(torch.arange(2))
    target = torch.zeros(17)
    target[8] = 5.0  # AU12
    frames = interpolate(method, batch.image, batch.aus, target[None], steps=5)
    assert frames.shape == (5, 2, 3, 32, 32)
    start = method.translate(batch.image, Target(aus=batch.aus))
    end = method.translate(batch.image, Target(aus=target.expand(2, -1)))
    middle = method.translate(batch.image, Target(aus=(batch.aus + target) / 2))
    assert torch.allclose(frames[0], start, atol=1e-6)
    assert torch.allclose(frames[-1], end, atol=1e-6)
    assert torch.allclose(frames[2], middle, atol=1e-4)


def test_errors(train: FaceDataset) -> None:
    method = smoke_model(train, "model.no_perceptual=true")
    image, aus = train.batch(torch.arange(1)).image, torch.zeros(1, 17)
    with pytest.raises(ConfigError, match="steps"):
        interpolate(method, image, aus, aus, steps=1)
    by_label = SimpleNamespace(name="stargan", condition="expression")
    with pytest.raises(ConfigError, match="AU vectors"):
        interpolate(by_label, image, aus, aus)  # type: ignore[arg-type]


def test_strip_has_one_row_per_source_and_the_source_first(tmp_path: Path) -> None:
    frames = torch.zeros(7, 2, 3, 32, 32)
    source = torch.ones(2, 3, 32, 32)
    path = save_strip(frames, tmp_path / "strip.png", source=source)
    with Image.open(path) as im:
        assert im.size == (8 * 34 + 2, 2 * 34 + 2)
        assert im.getpixel((2 + 16, 2 + 16)) == (255, 255, 255)  # the source, white
        assert im.getpixel((34 + 2 + 16, 2 + 16)) == (128, 128, 128)  # frame 0, mid grey
