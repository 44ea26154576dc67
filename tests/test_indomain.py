from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from eggan.core.imageops import random_blur
from eggan.core.trained_cache import cache_path, load_or_train
from eggan.data.dataset import load_dataset
from evaluate.indomain import blur, degrade, training_split


def test_blur_keeps_sigma_zero_images_and_smooths_the_others() -> None:
    images = torch.zeros(2, 3, 16, 16)
    images[:, :, 8, 8] = 1.0  # a single bright pixel
    out = blur(images, torch.tensor([0.0, 1.5]))
    assert torch.allclose(out[0], images[0], atol=1e-6)
    assert out[1, :, 8, 8].max() < 0.2  # spread over its neighbours...
    assert torch.allclose(out[1].sum(dim=(1, 2)), images[1].sum(dim=(1, 2)), atol=1e-4)  # ...and conserved
    assert torch.allclose(out[1, 0], out[1, 0].T, atol=1e-6)  # isotropic


def _centre_kept(sigma: float) -> float:
    """The share of a single bright pixel that a 9-tap Gaussian blur of ``sigma`` leaves in place,
    in both directions: the normalised centre tap, squared."""
    taps = np.exp(-0.5 * (np.arange(-4, 5) / sigma) ** 2)
    return float((1.0 / taps.sum()) ** 2)


def test_random_blur_gives_each_image_its_own_sigma_uniform_up_to_the_maximum() -> None:
    """C_exp's blur (model.exp_blur): each image's sigma is read back from how much of a bright
    pixel stays in place (less the larger the sigma): all within [0, 2], about half under 1, the
    smallest near 0 and the largest near 2 (one sigma for all would fail each but the first)."""
    images = torch.zeros(64, 1, 9, 9, dtype=torch.float64)
    images[:, :, 4, 4] = 1.0
    torch.manual_seed(0)
    kept = random_blur(images, 2.0)[:, 0, 4, 4].numpy()
    assert np.all(kept >= _centre_kept(2.0) - 1e-12) and np.all(kept <= 1.0)
    assert 20 <= int(np.sum(kept > _centre_kept(1.0))) <= 44
    assert kept.max() > _centre_kept(0.25) and kept.min() < _centre_kept(1.75)
    assert torch.equal(random_blur(images, 0.0), images)


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
def test_a_cached_evaluator_with_the_wrong_tags_is_rebuilt_with_a_warning(tiny_dataset: Path, tmp_path: Path,
                                                                          payload: dict) -> None:
    """A cached file of another format version, another evaluator or no tag is never used as this
    evaluator: it is trained again (seeded, so the same evaluator) and the warning names the file."""
    dataset = load_dataset(tiny_dataset, 32)
    settings = {"width": 0.25}
    path = cache_path("verifier", dataset, settings, tmp_path)
    torch.save({**payload, "state_dict": {}, "report": "{}"}, path)
    trained = {"w": torch.ones(2)}

    with pytest.warns(UserWarning, match=r"verifier-.*\.pt: the cached verifier is truncated, corrupt or not a "
                                         r"cached verifier; training it again"):
        state, _, _ = load_or_train("verifier", dataset, settings, lambda: (trained, {}), cache_dir=tmp_path)
    assert torch.equal(state["w"], trained["w"])
    assert torch.load(path, weights_only=True)["format"] == "eggan-bench-evaluator/1"
