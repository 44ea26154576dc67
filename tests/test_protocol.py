from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from standins import KeepSource, PasteTarget, standin

from eggan.data.dataset import load_dataset
from evaluate.au import AUEstimator, AUReading
from evaluate.identity import Verifier
from evaluate.pairs import calibrate, make_pairs, real_pairs
from evaluate.protocol import prepare_reference, score_method, score_real, score_source


class MeanColourAUs(AUEstimator):
    """AUs read off the image's mean colour; fails (ok = False) on images whose key ends in 3."""

    name = "mean-colour"

    def estimate(self, images: torch.Tensor, keys: Sequence[str]) -> AUReading:
        base = (images.mean(dim=(2, 3)) + 1) * 2.5  # N x 3 on 0-5
        aus = base.repeat(1, 6)[:, :17] + torch.linspace(0, 0.1, 17)
        ok = torch.tensor([not key.endswith("3") for key in keys])
        aus[~ok] = float("nan")
        return AUReading(aus, ok)

    def metadata(self) -> dict:
        return {"name": self.name}


class ColourFeatures(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: N x 1 x S x S grayscale
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), torch.ones(len(x), 1)], dim=1) - 0.5


@pytest.fixture(scope="module")
def setup(tiny_dataset: Path):
    dataset = load_dataset(tiny_dataset, 32)
    pairs = make_pairs(dataset)
    verifier = Verifier(ColourFeatures(), 32, {"name": "colour"}, torch.device("cpu"))
    calibrate(verifier, dataset, count=40)
    estimator = MeanColourAUs()
    return dataset, pairs, estimator, verifier, prepare_reference(dataset, pairs, estimator, verifier)


def test_score_method_gives_one_row_per_pair_with_every_column(setup) -> None:
    dataset, pairs, estimator, verifier, reference = setup
    frame, summary = score_method(standin(PasteTarget, 32), dataset, pairs, estimator, verifier, batch_size=5,
                                  reference=reference, rounds=20)
    assert len(frame) == len(pairs) == summary["n_pairs"]
    for column in ("pair", "source_path", "target_path", "target_AU01_r", "label_AU45_r", "pred_AU12_r",
                   "target_ok", "pred_ok", "cosine", "impostor_cosine", "accepted", "impostor_accepted"):
        assert column in frame, column
    # Pasting the target reproduces the estimator's reading of the target exactly.
    ok = frame["pred_ok"].to_numpy()
    np.testing.assert_allclose(frame.loc[ok, "pred_AU01_r"], frame.loc[ok, "target_AU01_r"])
    # Failed readings (keys ending in 3) are excluded and counted, on both sides.
    failures = sum(str(i).endswith("3") for i in range(len(pairs)))
    assert summary["estimator_failures"] == failures
    assert summary["au"]["vs_estimator"]["n_excluded"] == failures
    assert summary["au"]["vs_estimator"]["avg"]["mse"]["value"] == pytest.approx(0.0, abs=1e-9)


def test_the_method_is_used_only_through_translate(setup, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset, pairs, estimator, verifier, reference = setup
    method = standin(KeepSource, 32)
    seen: list[tuple] = []
    original = method.translate

    def spy(source, target):
        seen.append((source.shape, target.aus.shape, target.expression.shape, target.image.shape,
                     torch.equal(target.image, source)))
        return original(source, target)

    monkeypatch.setattr(method, "translate", spy)
    score_method(method, dataset, pairs, estimator, verifier, batch_size=8, reference=reference, rounds=0)
    # per chunk: the edit (the target's fields), then the reconstruction (the source's own fields)
    assert len(seen) == 2 * -(-len(pairs) // 8)
    assert seen[0] == ((8, 3, 32, 32), (8, 17), (8,), (8, 3, 32, 32), False)
    assert seen[1] == ((8, 3, 32, 32), (8, 17), (8,), (8, 3, 32, 32), True)


def test_reference_rows(setup) -> None:
    dataset, pairs, estimator, verifier, reference = setup
    _, source = score_source(dataset, pairs, estimator, verifier, reference, rounds=0)
    assert source["verification"]["accuracy"] == 1.0  # cosine(source, source) = 1
    real = score_real(reference, estimator, verifier, rounds=0)
    assert real["au"]["vs_estimator"] is None
    # Real verifies the calibration pairs: scored again here from the features, in numpy.
    features = verifier.features(dataset.batch(torch.arange(len(dataset))).image).numpy().astype(np.float64)
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    genuine, impostor = ((unit[p[:, 0]] * unit[p[:, 1]]).sum(1) for p in real_pairs(dataset, count=40, seed=0))
    accepted, rejected = np.mean(genuine >= verifier.threshold), np.mean(impostor < verifier.threshold)
    assert real["verification"]["accuracy"] == pytest.approx(accepted)
    assert real["verification"]["balanced_accuracy"] == pytest.approx((accepted + rejected) / 2)
    # The estimator fails on keys ending in 3: those targets are left out against the labels.
    assert real["au"]["vs_labels"]["n_used"] == len(pairs) - sum(str(i).endswith("3") for i in range(len(pairs)))


def test_scoring_before_calibration_is_refused(setup) -> None:
    dataset, pairs, estimator, _, reference = setup
    fresh = Verifier(ColourFeatures(), 32, {}, torch.device("cpu"))
    with pytest.raises(RuntimeError, match="calibrate"):
        score_method(standin(KeepSource, 32), dataset, pairs, estimator, fresh, reference=reference)
