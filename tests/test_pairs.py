from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fake_index import fake_dataset
from standins import colour_verifier, hand_cosine, hand_features

from eggan.data.aus import EXPRESSIONS
from eggan.data.dataset import load_dataset
from eggan.errors import DataError
from evaluate.pairs import calibrate, load_pairs, make_pairs, real_pairs, save_pairs


@pytest.fixture(scope="module")
def dataset(tiny_dataset: Path):
    return load_dataset(tiny_dataset, 32)


def test_pairs_take_targets_from_train_and_sources_from_test(dataset) -> None:
    pairs = make_pairs(dataset, per_expression=174, seed=0)
    split = dict(zip(dataset.table["path"], dataset.table["split"], strict=True))
    assert {split[p] for p in pairs["target_path"]} == {"train"}
    assert {split[p] for p in pairs["source_path"]} == {"test"}
    assert {split[p] for p in pairs["impostor_path"]} == {"test"}
    # The tiny set has 4 training images per expression: the count shrinks and is recorded.
    assert pairs.attrs["per_expression_used"] == 4 and len(pairs) == 32
    assert pairs["expression"].value_counts().eq(4).all()
    assert pairs["target_path"].is_unique
    assert (pairs["impostor_identity"] != pairs["source_identity"]).all()
    # Sources spread evenly over the test identities.
    counts = pairs["source_identity"].value_counts()
    assert counts.max() - counts.min() <= 1


def test_the_full_protocol_is_174_targets_per_expression_over_even_sources() -> None:
    """20 training identities x 11 images per expression (220 >= 174), 7 test identities x 3."""
    dataset = fake_dataset(20, 7, (11, 3))
    table = dataset.table.set_index("path")
    pairs = make_pairs(dataset)
    assert len(pairs) == 1392 and pairs.attrs["per_expression_used"] == 174 and pairs.attrs["n_pairs"] == 1392
    assert pairs["expression"].value_counts().to_dict() == dict.fromkeys(EXPRESSIONS, 174)
    assert pairs["target_path"].is_unique
    assert (table.loc[pairs["target_path"], "split"] == "train").all()
    assert (table.loc[pairs["target_path"], "expression"].to_numpy() == pairs["expression"].to_numpy()).all()
    for role in ("source", "impostor"):
        assert (table.loc[pairs[f"{role}_path"], "split"] == "test").all()
        assert (table.loc[pairs[f"{role}_path"], "identity"].to_numpy() == pairs[f"{role}_identity"].to_numpy()).all()
    assert (pairs["impostor_identity"] != pairs["source_identity"]).all()
    # 1392 = 7 x 198 + 6: six identities give 199 sources, one 198; each uses its 24 images in turn.
    assert sorted(pairs["source_identity"].value_counts()) == [198] + [199] * 6
    for _, sources in pairs.groupby("source_identity")["source_path"]:
        uses = sources.value_counts()
        assert len(uses) == 24 and uses.max() - uses.min() <= 1


def test_without_expression_labels_the_same_total_comes_from_all_training_images() -> None:
    pairs = make_pairs(fake_dataset(20, 3, (11, 2), labelled=False))
    assert len(pairs) == 1392 and pairs["target_path"].is_unique and pairs.attrs["per_expression_used"] is None
    small = make_pairs(fake_dataset(2, 2, (3, 1), labelled=False))  # 48 training images: all of them
    assert len(small) == 48 and small["target_path"].is_unique


def test_a_split_without_test_images_or_with_one_test_identity_is_refused() -> None:
    with pytest.raises(DataError, match="both splits"):
        make_pairs(fake_dataset(3, 0, (2, 2)))
    with pytest.raises(DataError, match="at least two test identities"):
        make_pairs(fake_dataset(3, 1, (2, 2)))


def test_pairs_are_seeded_and_round_trip(dataset, tmp_path: Path) -> None:
    a, b, c = make_pairs(dataset, seed=1), make_pairs(dataset, seed=1), make_pairs(dataset, seed=2)
    assert a.equals(b) and not a.equals(c)
    save_pairs(a, tmp_path / "pairs.csv")
    assert load_pairs(tmp_path / "pairs.csv", dataset).equals(a)


def test_a_pair_list_naming_unknown_images_is_refused(dataset, tmp_path: Path) -> None:
    pairs = make_pairs(dataset)
    pairs.loc[3, "source_path"] = "images/nobody.png"
    save_pairs(pairs, tmp_path / "pairs.csv")
    with pytest.raises(DataError, match=r"nobody\.png"):
        load_pairs(tmp_path / "pairs.csv", dataset)


def test_real_pairs_are_genuine_and_impostor_among_test_images(dataset) -> None:
    genuine, impostor = real_pairs(dataset, count=50, seed=0)
    table = dataset.table
    assert (table.loc[genuine[:, 0], "identity"].to_numpy() == table.loc[genuine[:, 1], "identity"].to_numpy()).all()
    assert (genuine[:, 0] != genuine[:, 1]).all()
    assert (table.loc[impostor[:, 0], "identity"].to_numpy() != table.loc[impostor[:, 1], "identity"].to_numpy()).all()
    assert set(table.loc[np.unique(impostor), "split"]) == {"test"}


def test_real_genuine_pairs_spread_over_every_test_identity(dataset) -> None:
    """Genuine pairs take turns among the test identities (each has two or more images), so the
    threshold is not fitted to one person's faces."""
    genuine, _ = real_pairs(dataset, count=40, seed=0)
    owners = dataset.table.loc[genuine[:, 0], "identity"].value_counts()
    test_ids = set(dataset.table.loc[dataset.table["split"] == "test", "identity"])
    assert set(owners.index) == test_ids and owners.max() - owners.min() <= 1


def test_calibration_fixes_the_threshold_of_best_accuracy_on_real_pairs(dataset) -> None:
    """The scores by hand (numpy features of the images), the best accuracy by trying every score as
    the threshold: the calibrated threshold reaches it and lies strictly between two scores."""
    verifier = colour_verifier(32)
    result = calibrate(verifier, dataset, count=40)
    features = hand_features(dataset.batch(torch.arange(len(dataset))).image.numpy())
    genuine_pairs, impostor_pairs = real_pairs(dataset, count=40, seed=0)
    genuine = hand_cosine(features[genuine_pairs[:, 0]], features[genuine_pairs[:, 1]])
    impostor = hand_cosine(features[impostor_pairs[:, 0]], features[impostor_pairs[:, 1]])
    scores = np.concatenate([genuine, impostor])

    def accuracy(tau: float) -> float:
        return float((np.sum(genuine >= tau) + np.sum(impostor < tau)) / len(scores))

    best = max(accuracy(tau) for tau in [*scores, np.inf])
    tau = verifier.threshold
    assert result["threshold"] == tau and result["accuracy"] == pytest.approx(best) == pytest.approx(accuracy(tau))
    assert np.abs(scores - tau).min() > 1e-7
    assert result["mean_genuine_cosine"] == pytest.approx(genuine.mean(), abs=1e-6)
    np.testing.assert_allclose(verifier.real_scores[0], genuine, atol=1e-6)
    np.testing.assert_allclose(verifier.real_scores[1], impostor, atol=1e-6)


class _MeanColourVerifier:
    """Features = mean colour, which blurring does not change."""

    threshold = None
    calibration = None
    real_scores = None

    def features(self, images, rows=None):
        return images.mean(dim=(2, 3)) - images.mean()


def test_blurring_the_second_face_changes_no_verdict_of_a_sharpness_blind_verifier(dataset) -> None:
    result = calibrate(_MeanColourVerifier(), dataset, count=40)
    assert result["accuracy"] > 0.9
    assert result["accuracy_second_blurred"] == {"1": result["accuracy"], "2": result["accuracy"]}
