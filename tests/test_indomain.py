from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from eggan.data.dataset import load_dataset
from eggan.errors import CheckpointError
from evaluate.indomain import blur, cache_path, degrade, load_or_train, training_split


def test_blur_keeps_sigma_zero_images_and_smooths_the_others() -> None:
    images = torch.zeros(2, 3, 16, 16)
    images[:, :, 8, 8] = 1.0  # a single bright pixel
    out = blur(images, torch.tensor([0.0, 1.5]))
    assert torch.allclose(out[0], images[0], atol=1e-6)
    assert out[1, :, 8, 8].max() < 0.2  # spread over its neighbours...
    assert torch.allclose(out[1].sum(dim=(1, 2)), images[1].sum(dim=(1, 2)), atol=1e-4)  # ...and conserved
    assert torch.allclose(out[1, 0], out[1, 0].T, atol=1e-6)  # isotropic


def test_degrade_blurs_about_half_the_batch_reproducibly() -> None:
    images = torch.rand(200, 3, 16, 16)
    first = degrade(images, 2.0, torch.Generator().manual_seed(0))
    again = degrade(images, 2.0, torch.Generator().manual_seed(0))
    assert torch.equal(first, again)
    changed = (first - images).abs().flatten(1).amax(1) > 1e-4
    assert 70 < int(changed.sum()) < 130
    assert torch.equal(degrade(images, 0.0, torch.Generator()), images)


def test_evaluators_learn_from_the_evaluator_split_and_say_so_when_there_is_none(tiny_dataset: Path) -> None:
    dataset = load_dataset(tiny_dataset, 32)
    table = dataset.table.copy()
    table.loc[table["identity"] == "id00", "split"] = "evaluator"
    faces, info = training_split(dataclasses.replace(dataset, table=table))
    assert faces.identities == ["id00"] and len(faces) == (table["identity"] == "id00").sum()
    assert info["split"] == "evaluator" and info["disjoint_from_scored_faces"] is True
    with pytest.warns(UserWarning, match="Real row is optimistic"):
        faces, info = training_split(dataset)
    assert faces.identities == dataset.split("train").identities
    assert info["disjoint_from_scored_faces"] is False and "optimistic" in info["warning"]


@pytest.mark.parametrize("payload", [
    {"format": "eggan-bench-evaluator/2", "kind": "verifier"},  # another version of the format
    {"format": "eggan-bench-evaluator/1", "kind": "estimator"},  # another evaluator's file
    {"kind": "verifier"},  # no format tag
])
def test_a_cached_evaluator_with_the_wrong_tags_is_refused(tiny_dataset: Path, tmp_path: Path, payload: dict) -> None:
    dataset = load_dataset(tiny_dataset, 32)
    settings = {"width": 0.25}
    torch.save({**payload, "state_dict": {}, "report": "{}"}, cache_path("verifier", dataset, settings, tmp_path))

    def never() -> None:
        raise AssertionError("a cached file with the wrong tags was silently retrained over")

    with pytest.raises(CheckpointError, match=r"verifier-.*\.pt: not a cached verifier evaluator; delete it"):
        load_or_train("verifier", dataset, settings, never, cache_dir=tmp_path)
