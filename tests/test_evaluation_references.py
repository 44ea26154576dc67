"""Every row of results.json checked against independent references.

A benchmark directory of stand-in methods (keep the source, paste the target, blend the two) is
evaluated with stand-in evaluators that have plain-numpy twins (``standins``): an AU estimator that
reads the mean colour, a verifier whose features are a grayscale face's mean and spread. So every
per-pair value can be recomputed from the images themselves, and every summary figure from the
per-pair CSVs with numpy and scipy: no expected value here comes from the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import pearsonr
from standins import (
    MeanColourAUs,
    colour_verifier,
    failed,
    fake_run,
    hand_aus,
    hand_cosine,
    hand_features,
    load_standin,
)

from eggan.data.aus import AU_COLUMNS, AU_NAMES
from eggan.data.dataset import FaceDataset, load_dataset
from evaluate import evaluation
from evaluate.evaluation import REAL_ROW, SOURCE_ROW, evaluate_run
from evaluate.pairs import real_pairs

ROUNDS = 200
# The stand-ins' output, by hand: label -> (source, target) -> generated image.
GENERATED = {"keep": lambda s, t: s, "paste": lambda s, t: t, "blend": lambda s, t: (s + t) / 2}


@pytest.fixture(scope="module")
def dataset(tiny_dataset: Path) -> FaceDataset:
    return load_dataset(tiny_dataset, 32)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> tuple[Path, dict[str, Any]]:
    run = fake_run(tmp_path_factory.mktemp("run"), tiny_dataset, {"keep": 1, "paste": 1, "blend": 2})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluation, "build_estimator", lambda *_args: MeanColourAUs())
        patch.setattr(evaluation, "build_verifier", lambda *_args: colour_verifier(32))
        results = evaluate_run(run, device="cpu", rounds=ROUNDS, loader=load_standin)
    return run, results


def rows(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["label"]: row for row in results["rows"]}


def images(dataset: FaceDataset, paths: pd.Series) -> np.ndarray:
    lookup = {p: i for i, p in enumerate(dataset.table["path"])}
    return dataset.batch(torch.tensor([lookup[p] for p in paths])).image.numpy().astype(np.float64)


def au_block(frame: pd.DataFrame, prefix: str) -> np.ndarray:
    return frame[[prefix + c for c in AU_COLUMNS]].to_numpy(np.float64)


@pytest.mark.parametrize(("label", "folder", "key"), [
    ("keep", "keep/seed0", "keep_seed0"), ("paste", "paste/seed0", "paste_seed0"),
    ("blend", "blend/seed1", "blend_seed1"), ("keep", "reference/source", "source"),
])
def test_every_per_pair_value_is_the_evaluators_reading_of_the_right_image(
        evaluated, dataset: FaceDataset, label: str, folder: str, key: str) -> None:
    """pred = the estimator on the generated image; target = on the real target; label = the dataset's
    AUs of the target; cosine = generated vs its source; impostor_cosine = generated vs another
    person's face. Failed readings (keys ending in 3) are NaN and flagged."""
    run, _ = evaluated
    pairs = pd.read_csv(run / "eval" / "pairs.csv")
    frame = pd.read_csv(run / "eval" / folder / "pairs.csv")
    assert list(frame["pair"]) == list(pairs["pair"]) and list(frame["target_path"]) == list(pairs["target_path"])
    source, target = images(dataset, pairs["source_path"]), images(dataset, pairs["target_path"])
    impostor = images(dataset, pairs["impostor_path"])
    generated = GENERATED[label](source, target)

    pred_ok = np.array([not failed(f"{key}_{i:04d}") for i in pairs["pair"]])
    target_ok = np.array([not failed(f"target_{i:04d}") for i in pairs["pair"]])
    assert list(frame["pred_ok"]) == list(pred_ok) and list(frame["target_ok"]) == list(target_ok)
    np.testing.assert_allclose(au_block(frame, "pred_")[pred_ok], hand_aus(generated)[pred_ok], atol=2e-5)
    assert np.isnan(au_block(frame, "pred_")[~pred_ok]).all()
    np.testing.assert_allclose(au_block(frame, "target_")[target_ok], hand_aus(target)[target_ok], atol=2e-5)
    labels = dataset.table.set_index("path").loc[pairs["target_path"], list(AU_COLUMNS)].to_numpy(np.float64)
    np.testing.assert_allclose(au_block(frame, "label_"), labels, atol=2e-5)

    features = hand_features(generated)
    np.testing.assert_allclose(frame["cosine"], hand_cosine(features, hand_features(source)), atol=2e-5)
    np.testing.assert_allclose(frame["impostor_cosine"], hand_cosine(features, hand_features(impostor)), atol=2e-5)


def expected_au(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Per-AU MSE and PCC (scipy) and their plain means over AUs (PCC over the AUs where it exists)."""
    mse = ((p - y) ** 2).mean(axis=0)
    pcc = np.array([pearsonr(y[:, j], p[:, j])[0] if np.ptp(y[:, j]) > 0 and np.ptp(p[:, j]) > 0 else np.nan
                    for j in range(y.shape[1])])
    return {"mse": mse, "pcc": pcc, "avg_mse": mse.mean(), "avg_pcc": np.nanmean(pcc),
            "n_pcc": int(np.isfinite(pcc).sum())}


def check_au_table(table: dict[str, Any], y: np.ndarray, p: np.ndarray, used: np.ndarray) -> None:
    expected = expected_au(y[used], p[used])
    assert (table["n_used"], table["n_excluded"]) == (used.sum(), (~used).sum())
    for metric in ("mse", "pcc"):
        for j, au in enumerate(AU_NAMES):
            value = table["per_au"][metric][au]
            if np.isnan(expected[metric][j]):
                assert value is None, (metric, au)
            else:
                assert value == pytest.approx(expected[metric][j], rel=1e-3, abs=1e-6), (metric, au)
    assert table["avg"]["mse"]["value"] == pytest.approx(expected["avg_mse"], rel=1e-3)
    assert table["avg"]["pcc"]["value"] == pytest.approx(expected["avg_pcc"], rel=1e-3, abs=1e-6)
    assert table["avg"]["pcc"]["n_aus"] == expected["n_pcc"]


def check_verification(summary: dict[str, Any], genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> None:
    accepted, rejected = np.mean(genuine >= threshold), np.mean(impostor < threshold)
    assert summary["threshold"] == threshold
    assert summary["accuracy"] == pytest.approx(accepted, abs=1e-9)
    assert summary["impostor_rejection"] == pytest.approx(rejected, abs=1e-9)
    assert summary["balanced_accuracy"] == pytest.approx((accepted + rejected) / 2, abs=1e-9)
    assert summary["mean_cosine"] == pytest.approx(genuine.mean(), abs=1e-4)
    assert summary["mean_impostor_cosine"] == pytest.approx(impostor.mean(), abs=1e-4)


@pytest.mark.parametrize(("label", "folder"), [
    (SOURCE_ROW, "reference/source"), ("keep", "keep/seed0"), ("paste", "paste/seed0"), ("blend", "blend/seed0")])
def test_each_rows_figures_are_recomputed_from_its_per_pair_csv(evaluated, label: str, folder: str) -> None:
    """Against the estimator (both readings succeeded) and against the labels (the generated image's
    reading succeeded), and the verification figures at the calibrated threshold."""
    run, results = evaluated
    row = rows(results)[label]
    summary = row["summary"] if row["kind"] == "reference" else row["seeds"]["0"]
    frame = pd.read_csv(run / "eval" / folder / "pairs.csv")
    pred_ok, target_ok = frame["pred_ok"].to_numpy(bool), frame["target_ok"].to_numpy(bool)
    pred = au_block(frame, "pred_")
    check_au_table(summary["au"]["vs_estimator"], au_block(frame, "target_"), pred, pred_ok & target_ok)
    check_au_table(summary["au"]["vs_labels"], au_block(frame, "label_"), pred, pred_ok)
    assert summary["estimator_failures"] == (~pred_ok).sum() > 0
    threshold = results["meta"]["evaluators"]["verifier"]["threshold"]
    check_verification(summary["verification"], frame["cosine"].to_numpy(), frame["impostor_cosine"].to_numpy(),
                       threshold)


def best_accuracy(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """The highest share of correct verdicts of any threshold, trying every distinct score as one."""
    scores = np.concatenate([genuine, impostor, [np.inf]])
    return max((np.sum(genuine >= s) + np.sum(impostor < s)) / (len(genuine) + len(impostor)) for s in scores)


def test_the_real_row_reads_real_targets_and_verifies_real_pairs(evaluated, dataset: FaceDataset) -> None:
    """Real: the estimator on the real targets against their labels; verification of real genuine and
    impostor pairs of test identities, at the threshold of best accuracy on those very pairs."""
    run, results = evaluated
    real = rows(results)[REAL_ROW]["summary"]
    pairs = pd.read_csv(run / "eval" / "pairs.csv")
    target = images(dataset, pairs["target_path"])
    labels = dataset.table.set_index("path").loc[pairs["target_path"], list(AU_COLUMNS)].to_numpy(np.float64)
    ok = np.array([not failed(f"target_{i:04d}") for i in pairs["pair"]])
    check_au_table(real["au"]["vs_labels"], labels, hand_aus(target), ok)
    assert real["au"]["vs_estimator"] is None and real["estimator_failures"] == (~ok).sum()

    features = hand_features(dataset.batch(torch.arange(len(dataset))).image.numpy())
    genuine_pairs, impostor_pairs = real_pairs(dataset, count=1392, seed=0)
    genuine = hand_cosine(features[genuine_pairs[:, 0]], features[genuine_pairs[:, 1]])
    impostor = hand_cosine(features[impostor_pairs[:, 0]], features[impostor_pairs[:, 1]])
    verifier = results["meta"]["evaluators"]["verifier"]
    threshold = verifier["threshold"]
    check_verification(real["verification"], genuine, impostor, threshold)
    assert verifier["calibration"]["accuracy"] == pytest.approx(best_accuracy(genuine, impostor), abs=1e-9)
    verdicts = (np.sum(genuine >= threshold) + np.sum(impostor < threshold)) / (len(genuine) + len(impostor))
    assert verdicts == pytest.approx(best_accuracy(genuine, impostor), abs=1e-9)


def percentile_bootstrap(y: np.ndarray, p: np.ndarray, statistic, rounds: int, seed: int) -> np.ndarray:
    """The 2.5th and 97.5th percentiles of ``statistic`` over ``rounds`` resamples of the rows, drawn as
    the suite draws them (torch's generator seeded with ``seed``), each resample evaluated explicitly."""
    draws = torch.randint(len(y), (rounds, len(y)), generator=torch.Generator().manual_seed(seed)).numpy()
    values = np.array([statistic(y[rows_], p[rows_]) for rows_ in draws])
    return np.percentile(values[np.isfinite(values)], [2.5, 97.5])


def test_avg_intervals_are_the_percentile_bootstrap_over_pairs(evaluated) -> None:
    run, results = evaluated
    table = rows(results)["blend"]["seeds"]["0"]["au"]["vs_labels"]
    frame = pd.read_csv(run / "eval" / "blend" / "seed0" / "pairs.csv")
    used = frame["pred_ok"].to_numpy(bool)
    y, p = au_block(frame, "label_")[used], au_block(frame, "pred_")[used]
    defined = np.isfinite(expected_au(y, p)["pcc"])

    def avg_pcc(a: np.ndarray, b: np.ndarray) -> float:
        with np.errstate(invalid="ignore", divide="ignore"):
            values = [np.corrcoef(a[:, j], b[:, j])[0, 1] for j in np.flatnonzero(defined)]
        return float(np.nanmean(values)) if np.isfinite(values).any() else np.nan

    for name, statistic in (("mse", lambda a, b: ((a - b) ** 2).mean()), ("pcc", avg_pcc)):
        low, high = percentile_bootstrap(y, p, statistic, ROUNDS, seed=0)
        entry = table["avg"][name]
        assert (entry["ci_low"], entry["ci_high"]) == (pytest.approx(low, rel=2e-3), pytest.approx(high, rel=2e-3))
        assert entry["ci_low"] < entry["value"] < entry["ci_high"]


def test_a_method_row_over_seeds_averages_its_seeds(evaluated) -> None:
    _, results = evaluated
    blend = rows(results)["blend"]
    assert blend["summary"]["n_seeds"] == 2 == len(blend["seeds"])
    values = [blend["seeds"][k]["au"]["vs_labels"]["avg"]["mse"]["value"] for k in ("0", "1")]
    assert blend["summary"]["au"]["vs_labels"]["avg"]["mse"]["mean"] == pytest.approx(np.mean(values))
    assert [row["label"] for row in results["rows"]] == [SOURCE_ROW, "blend", "keep", "paste", REAL_ROW]
