"""Paired tests of two rows scored on the same pairs, and corrections across several tests.

Every row of a run is scored on the same (source, target) pairs, so two rows are compared pair by
pair: the per-pair differences carry the comparison, and the pairs' own difficulty cancels. The
pairs are not independent, though: about 43 pairs share each source person, and a method that
fails on one person fails on all of that person's pairs. With ``clusters`` (the pairs' source
identities) every resampling here moves whole identities instead of single pairs: sign flips flip
an identity's pairs together, the bootstrap draws identities. That is what widens the intervals.

- a per-pair measure (squared AU error, ground-truth edit score): a two-sided sign-flip permutation
  test of the mean difference (exact over every sign pattern up to ``EXACT_UP_TO`` units, else
  ``DRAWS`` seeded draws), and Wilcoxon's signed-rank test as a rank-based check (on the identities'
  mean differences when clustered);
- Avg PCC, which is not a mean over pairs: a paired bootstrap of the difference, on the resamples
  of ``evaluate.metrics`` (the same weights for both rows, so the pairing is kept);
- verification (accepted or not, per pair): exact McNemar, a binomial test on the discordant pairs
  (the sign-flip test of the same differences gives the same p-value; it serves clusters and
  several seeds, whose shares accepted are not 0/1).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluate.metrics import CI_LEVEL, bootstrap_weights, get_metric, moments
from evaluate.protocol import columns

EXACT_UP_TO = 16  # units (pairs or identities): at most 2^16 sign patterns are enumerated exactly
DRAWS = 20_000  # Monte Carlo sign patterns above that
ALPHA = 0.05
# A sign pattern whose |sum| equals the observed one up to float rounding counts as "as extreme".
TIE = 1e-12
# A comparison with no pair defined on both sides: every figure n/a, left out of the corrections.
NOT_TESTED = {"n": 0, "units": 0, "a_value": None, "b_value": None, "difference": None, "ci": [None, None],
              "p": None, "test": "n/a (no pair defined for both rows)", "wilcoxon_p": None}


def cluster_codes(clusters: Sequence[Any] | None, n: int) -> np.ndarray:
    """Each pair's unit: its own index (no clustering) or its cluster's index."""
    if clusters is None:
        return np.arange(n)
    return pd.factorize(pd.Series(list(clusters)), sort=True)[0]


def resample_weights(codes: np.ndarray, rounds: int, seed: int) -> np.ndarray:
    """rounds x pairs bootstrap weights that draw whole units: ``bootstrap_weights`` over the units,
    each pair weighted by how often its unit was drawn (pairs themselves when every pair is a unit)."""
    return bootstrap_weights(int(codes.max()) + 1, rounds, seed)[:, codes]


def _interval(samples: np.ndarray) -> tuple[float | None, float | None]:
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return None, None
    alpha = (1.0 - CI_LEVEL) / 2.0
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return float(low), float(high)


def sign_flip(diff: np.ndarray, codes: np.ndarray, draws: int = DRAWS, seed: int = 0) -> tuple[float, str]:
    """Two-sided p of "the mean difference is 0" by flipping the signs of whole units; and how."""
    units = np.bincount(codes, weights=diff)
    observed = abs(units.sum())
    n = len(units)
    if n <= EXACT_UP_TO:
        signs = 1.0 - 2.0 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        totals = np.abs(signs @ units)
        extreme = totals >= observed - TIE * max(1.0, observed)
        return float(extreme.mean()), f"exact over {2**n} sign patterns"
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(draws, n))
    extreme = np.abs(signs @ units) >= observed - TIE * max(1.0, observed)
    return float((1 + extreme.sum()) / (draws + 1)), f"{draws} random sign patterns (seed {seed})"


def wilcoxon(diff: np.ndarray, codes: np.ndarray) -> float | None:
    """Wilcoxon signed-rank p of the units' mean differences; None when every difference is 0."""
    units = np.bincount(codes, weights=diff) / np.bincount(codes)
    if not np.any(units != 0):
        return None
    return float(stats.wilcoxon(units).pvalue)


def mean_difference(a: np.ndarray, b: np.ndarray, clusters: Sequence[Any] | None = None, rounds: int = 1000,
                    seed: int = 0) -> dict[str, Any]:
    """Paired comparison of a per-pair measure (NaN = not defined for that pair, left out on both
    sides): means, the mean difference a - b with a bootstrap interval, the sign-flip and the
    Wilcoxon p-values."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    if not keep.any():
        return dict(NOT_TESTED)
    diff = a[keep] - b[keep]
    codes = cluster_codes(None if clusters is None else np.asarray(list(clusters))[keep], len(diff))
    weights = resample_weights(codes, rounds, seed)
    p, how = sign_flip(diff, codes, seed=seed)
    return {"n": int(keep.sum()), "units": int(codes.max()) + 1, "a_value": float(a[keep].mean()),
            "b_value": float(b[keep].mean()), "difference": float(diff.mean()),
            "ci": list(_interval(weights @ diff / weights.sum(axis=1))), "p": p, "test": f"sign-flip, {how}",
            "wilcoxon_p": wilcoxon(diff, codes)}


def avg_metric(y: np.ndarray, p: np.ndarray, weights: np.ndarray | None, metric: str = "pcc") -> np.ndarray:
    """Avg of ``metric`` over the AUs where it is defined on all pairs (as ``au_agreement`` averages),
    once per weight vector (a bootstrap resample) or once for the pairs as they are."""
    defined = np.isfinite(get_metric(metric)(moments(y, p)))
    values = get_metric(metric)(moments(y, p, weights))[..., defined]
    with warnings.catch_warnings():  # a resample may leave an AU constant: n/a there
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=-1)


def pcc_difference(a: Sequence[tuple[np.ndarray, np.ndarray]], b: Sequence[tuple[np.ndarray, np.ndarray]],
                   keep: np.ndarray, clusters: Sequence[Any] | None = None, rounds: int = 1000,
                   seed: int = 0) -> dict[str, Any]:
    """Paired bootstrap of Avg PCC(a) - Avg PCC(b). ``a`` and ``b`` are (targets, predictions) per
    seed (a row's Avg PCC is the mean over its seeds, as in the tables), on the pairs ``keep``
    valid in every seed of both rows; every seed of both rows sees the same resamples. The p-value
    is the two-sided percentile-bootstrap one, twice the share of resampled differences on the
    other side of 0, counted as Monte Carlo p-values are ((1 + k) / (rounds + 1)): a finite number
    of resamples can never show p = 0, only p below 2 / (rounds + 1)."""
    if not keep.any():
        return dict(NOT_TESTED)
    codes = cluster_codes(None if clusters is None else np.asarray(list(clusters))[keep], int(keep.sum()))
    weights = resample_weights(codes, rounds, seed)

    def row(seeds: Sequence[tuple[np.ndarray, np.ndarray]], w: np.ndarray | None) -> np.ndarray:
        return np.mean([avg_metric(y[keep], p[keep], w) for y, p in seeds], axis=0)

    point_a, point_b = row(a, None), row(b, None)
    samples = row(a, weights) - row(b, weights)
    samples = samples[np.isfinite(samples)]
    side = min(np.sum(samples <= 0), np.sum(samples >= 0))
    p_value = min(1.0, 2 * (1 + side) / (len(samples) + 1)) if len(samples) else None
    finite = np.isfinite(point_a) and np.isfinite(point_b)
    return {"n": int(keep.sum()), "units": int(codes.max()) + 1,
            "a_value": float(point_a) if np.isfinite(point_a) else None,
            "b_value": float(point_b) if np.isfinite(point_b) else None,
            "difference": float(point_a - point_b) if finite else None, "ci": list(_interval(samples)),
            "p": None if p_value is None else float(p_value),
            "test": f"paired bootstrap, {rounds} rounds (seed {seed})", "wilcoxon_p": None}


def accepted_difference(a: np.ndarray, b: np.ndarray, clusters: Sequence[Any] | None = None, rounds: int = 1000,
                        seed: int = 0) -> dict[str, Any]:
    """Verification, a vs b: shares of pairs accepted (per pair 0/1, or the share of seeds). Exact
    McNemar when both are 0/1 and the pairs are the units; the sign-flip test otherwise."""
    result = mean_difference(a, b, clusters, rounds, seed)
    result["wilcoxon_p"] = None  # ranks of 0/1 differences say nothing McNemar does not
    binary = all(np.isin(np.asarray(x)[np.isfinite(x)], (0.0, 1.0)).all() for x in (a, b))
    if binary and clusters is None and result["n"]:
        both = np.isfinite(a) & np.isfinite(b)
        only_a = int(((a == 1) & (b == 0) & both).sum())
        only_b = int(((a == 0) & (b == 1) & both).sum())
        result["p"] = float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue) if only_a + only_b else 1.0
        result["test"] = f"exact McNemar ({only_a} pairs accepted only for a, {only_b} only for b)"
    return result


# --- corrections across the comparisons --------------------------------------------------------


def holm(p: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (family-wise error); None stays None (not tested)."""
    tested = [i for i, v in enumerate(p) if v is not None]
    order = sorted(tested, key=lambda i: p[i])
    adjusted: list[float | None] = [None] * len(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate); None stays None."""
    tested = [i for i, v in enumerate(p) if v is not None]
    order = sorted(tested, key=lambda i: p[i], reverse=True)
    adjusted: list[float | None] = [None] * len(p)
    running = 1.0
    for rank, i in enumerate(order):
        running = min(running, len(order) / (len(order) - rank) * p[i])
        adjusted[i] = running
    return adjusted


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg, "none": lambda p: list(p)}


# --- the main tables' marker -------------------------------------------------------------------


def per_pair_au_error(frame: pd.DataFrame, against: str = "estimator") -> np.ndarray:
    """Each pair's squared AU error averaged over the 17 AUs (its mean over pairs is the tables'
    Avg MSE); NaN where the pair is excluded (not finite, or the estimator failed)."""
    reference = columns(frame, "target_" if against == "estimator" else "label_")
    predicted = columns(frame, "pred_")
    ok = frame["pred_ok"].to_numpy(bool) & (frame["target_ok"].to_numpy(bool) if against == "estimator" else True)
    error = ((predicted - reference) ** 2).mean(axis=1)
    return np.where(ok & np.isfinite(error), error, np.nan)


def pairwise_au_error(errors: dict[str, np.ndarray], clusters: Sequence[Any]) -> dict[str, Any]:
    """Every two method rows of a run compared on the per-pair AU error (``errors``: label -> per-pair
    errors, a row's mean over its seeds) with the identity-clustered sign-flip test; the tables pick
    the comparisons of the rows they show (``next_row_marks``)."""
    labels = sorted(errors)
    tests = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            test = mean_difference(errors[a], errors[b], clusters, rounds=0)
            tests.append({"rows": [a, b], "difference": test["difference"], "p": test["p"], "n": test["n"],
                          "units": test.get("units")})
    return {"measure": "per-pair squared AU error against the estimator's reading of the target (mean over AUs)",
            "test": "two-sided sign-flip permutation test of the mean paired difference, flipping whole source "
                    "identities", "tests": tests}


def next_row_marks(significance: dict[str, Any], ranked: Sequence[str], correction: str = "holm",
                   alpha: float = ALPHA) -> dict[str, dict[str, Any]]:
    """"Significantly better than the next row": each of the ``ranked`` rows (best first) against
    the one ranked just below it, the p-values corrected across these comparisons; a row is marked
    when its corrected p is under ``alpha`` and its error is the lower one."""
    found = {tuple(t["rows"]): t for t in significance["tests"]}
    chosen = []
    for better, worse in pairwise(ranked):
        test = found.get((better, worse))
        flipped = test is None
        test = test or found.get((worse, better))
        if test is not None:
            difference = None if test["difference"] is None else test["difference"] * (-1 if flipped else 1)
            chosen.append((better, worse, difference, test["p"]))
    adjusted = CORRECTIONS[correction]([p for *_, p in chosen])
    return {better: {"next": worse, "difference": difference, "p": p, "p_adjusted": q,
                     "significant": q is not None and q < alpha and difference is not None and difference < 0}
            for (better, worse, difference, p), q in zip(chosen, adjusted, strict=True)}
