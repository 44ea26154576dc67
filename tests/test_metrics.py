from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from eggan.data.aus import AU_NAMES
from eggan.errors import ConfigError
from evaluate.metrics import (
    METRICS,
    au_agreement,
    best_threshold,
    get_metric,
    moments,
    verification,
)


def _data(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 5, (n, 17))
    p = np.clip(y + rng.normal(0, 0.7, (n, 17)), 0, 5)
    return y, p


def test_registry_has_the_four_au_metrics() -> None:
    assert set(METRICS) == {"mse", "mae", "pcc", "icc"}
    with pytest.raises(ConfigError, match="unknown metric"):
        get_metric("rmse")


def test_per_au_values_match_scipy_and_hand_computation() -> None:
    y, p = _data()
    result = au_agreement(y, p, rounds=0)
    for j, au in enumerate(AU_NAMES):
        assert result["per_au"]["pcc"][au] == pytest.approx(pearsonr(y[:, j], p[:, j])[0], abs=1e-10)
        assert result["per_au"]["mse"][au] == pytest.approx(np.mean((p[:, j] - y[:, j]) ** 2))
        assert result["per_au"]["mae"][au] == pytest.approx(np.mean(np.abs(p[:, j] - y[:, j])))
        cov = np.cov(y[:, j], p[:, j], ddof=1)
        assert result["per_au"]["icc"][au] == pytest.approx(2 * cov[0, 1] / (cov[0, 0] + cov[1, 1]))
    assert result["avg"]["mse"]["value"] == pytest.approx(np.mean((p - y) ** 2))
    assert result["avg"]["pcc"]["n_aus"] == 17


def test_icc_equals_the_anova_form() -> None:
    """ICC(3,1) from the two-way ANOVA mean squares (Shrout & Fleiss) equals 2cov/(var+var)."""
    y, p = _data(n=40, seed=3)
    for j in range(3):
        ratings = np.stack([y[:, j], p[:, j]], axis=1)  # n targets x k=2 judges
        n, k = ratings.shape
        grand = ratings.mean()
        ss_rows = k * ((ratings.mean(axis=1) - grand) ** 2).sum()
        ss_cols = n * ((ratings.mean(axis=0) - grand) ** 2).sum()
        ss_err = ((ratings - grand) ** 2).sum() - ss_rows - ss_cols
        ms_r, ms_e = ss_rows / (n - 1), ss_err / ((n - 1) * (k - 1))
        anova = (ms_r - ms_e) / (ms_r + (k - 1) * ms_e)
        got = au_agreement(y, p, rounds=0)["per_au"]["icc"][AU_NAMES[j]]
        assert got == pytest.approx(anova, abs=1e-10)


def test_icc_penalises_scale_but_not_offset_unlike_pcc() -> None:
    y, _ = _data()
    shifted = au_agreement(y, y + 1.0, rounds=0)
    scaled = au_agreement(y, 2 * y, rounds=0)
    assert shifted["avg"]["icc"]["value"] == pytest.approx(1.0)
    assert scaled["avg"]["pcc"]["value"] == pytest.approx(1.0)
    assert scaled["avg"]["icc"]["value"] == pytest.approx(2 * 2 / (1 + 4))


def test_zero_variance_aus_are_na_and_left_out_of_the_pcc_average() -> None:
    y, p = _data()
    y[:, 4] = 0.0  # constant targets (OpenFace's exact zeros)
    p[:, 7] = 1.5  # constant predictions
    y[:, 9] = 2.0
    p[:, 9] = 2.0  # both constant
    result = au_agreement(y, p, rounds=50)
    pcc = result["per_au"]["pcc"]
    assert pcc[AU_NAMES[4]] is None and pcc[AU_NAMES[7]] is None and pcc[AU_NAMES[9]] is None
    assert result["avg"]["pcc"]["n_aus"] == 14
    expected = np.mean([pearsonr(y[:, j], p[:, j])[0] for j in range(17) if j not in (4, 7, 9)])
    assert result["avg"]["pcc"]["value"] == pytest.approx(expected)
    # ICC: one constant side gives 0 (defined), both constant gives n/a.
    assert result["per_au"]["icc"][AU_NAMES[4]] == pytest.approx(0.0, abs=1e-12)
    assert result["per_au"]["icc"][AU_NAMES[9]] is None
    assert result["avg"]["icc"]["n_aus"] == 16
    assert result["per_au"]["mse"][AU_NAMES[9]] == 0.0


def test_nan_rows_and_failed_estimator_rows_are_excluded_pairwise_and_counted() -> None:
    y, p = _data()
    p_bad = p.copy()
    p_bad[3, 5] = np.nan
    y_bad = y.copy()
    y_bad[10, 0] = np.inf
    ok = np.ones(len(y), dtype=bool)
    ok[[20, 21]] = False  # OpenFace found no face there; the values are garbage
    p_bad[[20, 21]] = 5.0
    result = au_agreement(y_bad, p_bad, ok=ok, rounds=0)
    keep = np.setdiff1d(np.arange(len(y)), [3, 10, 20, 21])
    reference = au_agreement(y[keep], p[keep], rounds=0)
    assert result["n_excluded"] == 4 and result["n_used"] == len(y) - 4
    assert result["per_au"] == reference["per_au"]


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    y, p = _data(n=200)
    a = au_agreement(y, p, rounds=300, seed=1)
    b = au_agreement(y, p, rounds=300, seed=1)
    c = au_agreement(y, p, rounds=300, seed=2)
    assert a["avg"] == b["avg"]
    assert a["avg"]["pcc"] != c["avg"]["pcc"]
    for name in METRICS:
        entry = a["avg"][name]
        assert entry["ci_low"] < entry["value"] < entry["ci_high"]
    # A tighter relation gives a narrower MSE interval than a noisier one.
    noisy = au_agreement(y, y + np.random.default_rng(0).normal(0, 2, y.shape), rounds=300)
    assert (a["avg"]["mse"]["ci_high"] - a["avg"]["mse"]["ci_low"]) < (
        noisy["avg"]["mse"]["ci_high"] - noisy["avg"]["mse"]["ci_low"]
    )


def test_weighted_moments_equal_explicit_resampling() -> None:
    y, p = _data(n=30)
    idx = np.random.default_rng(5).integers(0, 30, 30)
    counts = np.bincount(idx, minlength=30)[None, :].astype(float)
    weighted = get_metric("pcc")(moments(y, p, counts))[0]
    explicit = get_metric("pcc")(moments(y[idx], p[idx]))
    np.testing.assert_allclose(weighted, explicit, atol=1e-10)


def test_a_single_pair_has_errors_but_no_correlation() -> None:
    y, p = _data(n=3)
    result = au_agreement(y, p, ok=np.array([True, False, False]), rounds=20)
    assert result["n_used"] == 1
    assert result["avg"]["pcc"]["value"] is None and result["avg"]["icc"]["value"] is None
    assert set(result["per_au"]["pcc"].values()) == {None}
    assert result["avg"]["mse"]["value"] == pytest.approx(np.mean((p[0] - y[0]) ** 2))
    assert result["per_au"]["mae"][AU_NAMES[3]] == pytest.approx(abs(p[0, 3] - y[0, 3]))
    # Every resample of one pair is that pair.
    assert result["avg"]["mse"]["ci_low"] == pytest.approx(result["avg"]["mse"]["value"])
    assert result["avg"]["mse"]["ci_high"] == pytest.approx(result["avg"]["mse"]["value"])


def test_no_usable_pair_is_na_everywhere_without_warnings() -> None:
    """An AU the estimator never read (all NaN) excludes every row, as a row with any NaN is excluded."""
    y, p = _data(n=10)
    p[:, 6] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = au_agreement(y, p, rounds=20)
    assert result["n_used"] == 0 and result["n_excluded"] == 10
    assert all(entry["value"] is None and entry["ci_low"] is None for entry in result["avg"].values())


@pytest.mark.parametrize("constant", [0.1, 0.3, 2.7, 1 / 3])
def test_a_constant_that_binary_cannot_represent_has_no_pcc(constant: float) -> None:
    """A column of 0.1 is constant, yet its float mean is not exactly 0.1, so its variance comes out
    as rounding noise rather than 0. Constant predictions or constant targets: n/a, not PCC -1 or 1."""
    y, p = _data(n=50, seed=4)
    p[:, 2] = constant
    y[:, 5] = constant
    result = au_agreement(y, p, rounds=30)
    for j in (2, 5):
        assert result["per_au"]["pcc"][AU_NAMES[j]] is None
    assert result["avg"]["pcc"]["n_aus"] == 15
    expected = np.mean([pearsonr(y[:, j], p[:, j])[0] for j in range(17) if j not in (2, 5)])
    assert result["avg"]["pcc"]["value"] == pytest.approx(expected)
    assert result["per_au"]["icc"][AU_NAMES[2]] == pytest.approx(0.0, abs=1e-9)  # one side constant: 0


def test_avg_interval_is_the_explicit_percentile_bootstrap() -> None:
    """Each resample scored on its own (rows drawn as the suite draws them: torch's generator seeded
    with ``seed``), the 2.5th and 97.5th percentiles of the resampled Avg figures."""
    y, p = _data(n=40, seed=7)
    p[:, 0] = 1.0  # an n/a AU: left out of every resample's PCC average too
    rounds, seed = 300, 5
    result = au_agreement(y, p, rounds=rounds, seed=seed)
    draws = torch.randint(len(y), (rounds, len(y)), generator=torch.Generator().manual_seed(seed)).numpy()
    for name, statistic in (
        ("mse", lambda a, b: np.mean((b - a) ** 2)),
        ("mae", lambda a, b: np.mean(np.abs(b - a))),
        ("pcc", lambda a, b: np.mean([np.corrcoef(a[:, j], b[:, j])[0, 1] for j in range(1, 17)])),
    ):
        values = [statistic(y[rows], p[rows]) for rows in draws]
        low, high = np.percentile(values, [2.5, 97.5])
        assert result["avg"][name]["ci_low"] == pytest.approx(low, rel=1e-9), name
        assert result["avg"][name]["ci_high"] == pytest.approx(high, rel=1e-9), name


def test_best_threshold_maximises_accuracy_by_hand() -> None:
    genuine = np.array([0.9, 0.8, 0.7, 0.35])
    impostor = np.array([0.1, 0.2, 0.5, 0.45])
    tau, accuracy = best_threshold(genuine, impostor)
    # Accepting >= 0.6 gets 3 genuine + 4 impostors right (7/8); no threshold does better.
    assert accuracy == pytest.approx(7 / 8)
    assert 0.5 < tau <= 0.7


def test_a_score_equal_to_the_threshold_is_accepted() -> None:
    """Accept when cosine >= threshold: a genuine pair at the threshold counts as accepted and an
    impostor at the threshold as not rejected."""
    result = verification(np.array([0.5, 0.25]), np.array([0.5, 0.75, 0.25]), threshold=0.5)
    assert result["accuracy"] == 0.5 and result["impostor_rejection"] == pytest.approx(1 / 3)


def test_verification_accuracy_and_balanced_accuracy() -> None:
    genuine = np.array([0.9, 0.8, 0.3, np.nan])
    impostor = np.array([0.95, 0.1, 0.2, 0.0])
    result = verification(genuine, impostor, threshold=0.5)
    assert result["accuracy"] == pytest.approx(2 / 4)  # the NaN pair is not accepted
    assert result["n_nonfinite"] == 1
    assert result["impostor_rejection"] == pytest.approx(3 / 4)
    assert result["balanced_accuracy"] == pytest.approx((2 / 4 + 3 / 4) / 2)
    assert result["mean_cosine"] == pytest.approx(np.mean([0.9, 0.8, 0.3]))
    # One face for everybody: every genuine and every impostor pair accepted.
    collapse = verification(np.full(5, 0.99), np.full(5, 0.99), threshold=0.5)
    assert collapse["accuracy"] == 1.0 and collapse["balanced_accuracy"] == 0.5
