"""Per-AU agreement (MSE, MAE, PCC, ICC(3,1)), their average over AUs, and face verification.

Every AU metric is a function of a handful of per-AU *weighted means* over the pairs (of the
target y, the prediction p, their squares and product, the squared and absolute error). A
bootstrap resample is just another weight vector (how often each pair was drawn), so the 95 %
intervals of every "Avg" figure come from one matrix product instead of a thousand passes.

Conventions (``au-metrics.md``, ``protocol.md``):
- rows where either side is not finite, or the estimator failed (``ok`` false), are excluded
  pairwise from both sides and counted;
- an AU whose targets or predictions have zero variance has no PCC ("n/a", NaN here): it is left
  out of the PCC average and the number of AUs averaged is reported; ICC(3,1) is n/a only when
  both sides are constant (otherwise its covariance is 0 and so is the ICC);
- "Avg" is the unweighted mean over AUs (macro average), never a pooled correlation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from eggan.data.aus import AU_NAMES
from eggan.errors import ConfigError

# Below this variance (on the 0-5 scale) a column is treated as constant.
ZERO_VARIANCE = 1e-12
CI_LEVEL = 0.95


@dataclass(frozen=True)
class Moments:
    """Weighted means per AU (arrays of shape ... x n_aus); y and p are centred, the errors are not."""

    y: np.ndarray
    p: np.ndarray
    yy: np.ndarray
    pp: np.ndarray
    yp: np.ndarray
    sq_err: np.ndarray
    abs_err: np.ndarray

    @property
    def var_y(self) -> np.ndarray:
        return np.maximum(self.yy - self.y**2, 0.0)

    @property
    def var_p(self) -> np.ndarray:
        return np.maximum(self.pp - self.p**2, 0.0)

    @property
    def cov(self) -> np.ndarray:
        return self.yp - self.y * self.p


def moments(y: np.ndarray, p: np.ndarray, weights: np.ndarray | None = None) -> Moments:
    """Means over rows of y, p (N x A); ``weights`` (B x N) gives B weighted versions at once."""
    error = p - y
    y = y - y.mean(axis=0)  # centring keeps E[y^2] - E[y]^2 free of cancellation
    p = p - p.mean(axis=0)
    columns = (y, p, y * y, p * p, y * p, error**2, np.abs(error))
    stacked = np.concatenate(columns, axis=1)  # N x 7A
    means = (
        stacked.mean(axis=0) if weights is None else weights @ stacked / weights.sum(axis=1, keepdims=True)
    )
    return Moments(*np.split(means, len(columns), axis=-1))


# --- the registry: tables ask for metrics by name --------------------------------------------

AUMetric = Callable[[Moments], np.ndarray]
METRICS: dict[str, AUMetric] = {}
# Which direction is better, for tables that mark the best method.
HIGHER_IS_BETTER: dict[str, bool] = {}


def register_metric(name: str, higher_is_better: bool) -> Callable[[AUMetric], AUMetric]:
    def register(fn: AUMetric) -> AUMetric:
        METRICS[name] = fn
        HIGHER_IS_BETTER[name] = higher_is_better
        return fn

    return register


def get_metric(name: str) -> AUMetric:
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; available: {', '.join(METRICS)}")
    return METRICS[name]


@register_metric("mse", higher_is_better=False)
def mse(m: Moments) -> np.ndarray:
    return m.sq_err


@register_metric("mae", higher_is_better=False)
def mae(m: Moments) -> np.ndarray:
    return m.abs_err


@register_metric("pcc", higher_is_better=True)
def pcc(m: Moments) -> np.ndarray:
    """Pearson correlation; NaN where either side is constant."""
    defined = (m.var_y > ZERO_VARIANCE) & (m.var_p > ZERO_VARIANCE)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = m.cov / np.sqrt(m.var_y * m.var_p)
    return np.where(defined, np.clip(value, -1.0, 1.0), np.nan)


@register_metric("icc", higher_is_better=True)
def icc(m: Moments) -> np.ndarray:
    """ICC(3,1) with two judges = 2 cov / (var_y + var_p); NaN only when both are constant."""
    total = m.var_y + m.var_p
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 2.0 * m.cov / total
    return np.where(total > ZERO_VARIANCE, value, np.nan)


# --- one table: per AU, Avg, bootstrap interval ------------------------------------------------


def valid_rows(y: np.ndarray, p: np.ndarray, ok: np.ndarray | None = None) -> np.ndarray:
    """Rows usable on both sides: finite everywhere and (when given) the estimator succeeded."""
    keep = np.isfinite(y).all(axis=1) & np.isfinite(p).all(axis=1)
    return keep if ok is None else keep & np.asarray(ok, dtype=bool)


def bootstrap_weights(n: int, rounds: int, seed: int) -> np.ndarray:
    """rounds x n counts: how often each row is drawn in each resample (seeded, torch RNG)."""
    draws = torch.randint(n, (rounds, n), generator=torch.Generator().manual_seed(seed))
    counts = torch.zeros(rounds, n, dtype=torch.float64)
    counts.scatter_add_(1, draws, torch.ones(rounds, n, dtype=torch.float64))
    return counts.numpy()


def au_agreement(
    y: np.ndarray | torch.Tensor,
    p: np.ndarray | torch.Tensor,
    ok: np.ndarray | torch.Tensor | None = None,
    metrics: Sequence[str] = ("mse", "mae", "pcc", "icc"),
    rounds: int = 1000,
    seed: int = 0,
    names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per-AU values, Avg over AUs with a bootstrap 95 % interval, and what was excluded.

    ``y`` are the targets, ``p`` the predictions (N x A, same scale), one column per AU ``names``
    (default: the 17 AUs). A dataset that codes fewer AUs (DISFA: 12) passes only those columns and
    their names: an AU it does not code has no target, so it has no figure and is not averaged.
    Returns a JSON-ready dict: ``per_au[metric][AU]`` (None for n/a), ``avg[metric] = {value,
    ci_low, ci_high, n_aus}``, ``n_pairs``, ``n_used``, ``n_excluded``.
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 2:
        raise ConfigError(f"targets {y.shape} and predictions {p.shape} must be the same N x A shape")
    keep = valid_rows(y, p, None if ok is None else np.asarray(ok))
    y, p = y[keep], p[keep]
    if names is None:
        names = AU_NAMES if y.shape[1] == len(AU_NAMES) else tuple(f"AU{i}" for i in range(y.shape[1]))
    if len(names) != y.shape[1]:
        raise ConfigError(f"{y.shape[1]} AU columns but {len(names)} AU names")
    result: dict[str, Any] = {
        "n_pairs": len(keep),
        "n_used": int(keep.sum()),
        "n_excluded": int((~keep).sum()),
        "per_au": {},
        "avg": {},
        "ci_level": CI_LEVEL,
        "bootstrap_rounds": rounds,
        "bootstrap_seed": seed,
    }
    if len(y) == 0:  # nothing left to score: every figure is n/a (one pair has errors, but no correlation)
        for name in metrics:
            result["per_au"][name] = dict.fromkeys(names)
            result["avg"][name] = {"value": None, "ci_low": None, "ci_high": None, "n_aus": 0}
        return result
    full = moments(y, p)
    boot = moments(y, p, bootstrap_weights(len(y), rounds, seed)) if rounds > 0 else None
    alpha = (1.0 - CI_LEVEL) / 2.0
    for name in metrics:
        per_au = get_metric(name)(full)
        defined = np.isfinite(per_au)
        result["per_au"][name] = {au: finite_or_none(v) for au, v in zip(names, per_au, strict=True)}
        entry: dict[str, Any] = {"value": finite_or_none(np.nanmean(per_au)) if defined.any() else None,
                                 "n_aus": int(defined.sum()), "ci_low": None, "ci_high": None}
        if boot is not None and defined.any():
            # Average over the same AUs as the point estimate, so the interval describes it.
            samples = get_metric(name)(boot)[:, defined]
            with warnings.catch_warnings():  # a resample may leave an AU constant: n/a there
                warnings.simplefilter("ignore", RuntimeWarning)
                averages = np.nanmean(samples, axis=1)
            averages = averages[np.isfinite(averages)]
            if len(averages):
                low, high = np.quantile(averages, [alpha, 1 - alpha])
                entry["ci_low"], entry["ci_high"] = finite_or_none(low), finite_or_none(high)
        result["avg"][name] = entry
    return result


def mean_with_ci(values: np.ndarray, rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Mean of the finite per-pair ``values`` with its 95 % percentile-bootstrap interval (the same
    resamples as ``au_agreement``); n counts the values used, None stands for n/a."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    entry: dict[str, Any] = {"value": finite_or_none(values.mean()) if len(values) else None, "ci_low": None,
                             "ci_high": None, "n": len(values)}
    if rounds > 0 and len(values) > 1:
        weights = bootstrap_weights(len(values), rounds, seed)
        means = weights @ values / weights.sum(axis=1)
        alpha = (1.0 - CI_LEVEL) / 2.0
        entry["ci_low"], entry["ci_high"] = (finite_or_none(q) for q in np.quantile(means, [alpha, 1 - alpha]))
    return entry


def finite_or_none(value: float) -> float | None:
    """A JSON-ready number: the value, or None (n/a) where it is NaN or infinite."""
    return float(value) if np.isfinite(value) else None


# --- verification ------------------------------------------------------------------------------


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity of two N x D feature matrices."""
    return torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=1).float()


def best_threshold(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """The threshold (accept when cosine >= tau) of highest accuracy on real pairs, and that accuracy.

    Candidates are midpoints between consecutive distinct scores (and one below / above all),
    so the chosen threshold never sits exactly on an observed score.
    """
    genuine = np.asarray(genuine, dtype=np.float64)
    impostor = np.asarray(impostor, dtype=np.float64)
    if len(genuine) == 0 or len(impostor) == 0:
        raise ConfigError("a verification threshold needs genuine and impostor pairs")
    scores = np.unique(np.concatenate([genuine, impostor]))
    candidates = np.concatenate([[scores[0] - 1e-6], (scores[:-1] + scores[1:]) / 2, [scores[-1] + 1e-6]])
    accepted_genuine = (genuine[None, :] >= candidates[:, None]).sum(axis=1)
    rejected_impostor = (impostor[None, :] < candidates[:, None]).sum(axis=1)
    accuracy = (accepted_genuine + rejected_impostor) / (len(genuine) + len(impostor))
    best = int(np.argmax(accuracy))
    return float(candidates[best]), float(accuracy[best])


def verification(genuine: np.ndarray, impostor: np.ndarray | None, threshold: float) -> dict[str, Any]:
    """The paper's accuracy (share of genuine pairs accepted), mean cosine, balanced accuracy.

    Balanced accuracy = (share of genuine accepted + share of impostors rejected) / 2: a method
    that draws one face for everybody gets its genuine pairs accepted but its impostors too.
    Non-finite scores (a failed feature) count as not accepted / not rejected and are counted.
    """
    genuine = np.asarray(genuine, dtype=np.float64)
    result: dict[str, Any] = {
        "threshold": threshold,
        "n_genuine": len(genuine),
        "n_nonfinite": int((~np.isfinite(genuine)).sum()),
        "accuracy": finite_or_none(np.mean(genuine >= threshold)) if len(genuine) else None,
        "mean_cosine": finite_or_none(np.nanmean(genuine)) if np.isfinite(genuine).any() else None,
        "balanced_accuracy": None,
        "impostor_rejection": None,
        "mean_impostor_cosine": None,
        "n_impostor": 0,
    }
    if impostor is not None and len(impostor) and len(genuine):
        impostor = np.asarray(impostor, dtype=np.float64)
        rejection = float(np.mean(impostor < threshold))
        result.update(
            n_impostor=len(impostor),
            impostor_rejection=rejection,
            mean_impostor_cosine=finite_or_none(np.nanmean(impostor)) if np.isfinite(impostor).any() else None,
            balanced_accuracy=(result["accuracy"] + rejection) / 2.0,
        )
    return result
