"""A method row's figures over its training seeds: the mean and sample standard deviation of
every per-seed number that results.json reports (``Aggregate`` in evaluate.evaluation's schema).
A figure a seed leaves undefined (None) is left out of that mean rather than counted as 0."""

from __future__ import annotations

from typing import Any

import numpy as np


def _mean_std(values: list[float | None]) -> dict[str, float | None]:
    defined = np.array([v for v in values if v is not None], dtype=np.float64)
    return {"mean": float(defined.mean()) if len(defined) else None,
            "std": float(defined.std(ddof=1)) if len(defined) > 1 else None}


def aggregate(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of every per-AU and Avg figure."""
    result: dict[str, Any] = {"n_seeds": len(summaries), "au": {}, "verification": {}}
    for side in ("vs_estimator", "vs_labels"):
        tables = [s["au"][side] for s in summaries]
        result["au"][side] = {
            "per_au": {m: {au: _mean_std([t["per_au"][m][au] for t in tables]) for au in tables[0]["per_au"][m]}
                       for m in tables[0]["per_au"]},
            "avg": {m: {**_mean_std([t["avg"][m]["value"] for t in tables]),
                        "n_aus": min(t["avg"][m]["n_aus"] for t in tables)} for m in tables[0]["avg"]},
        }
    for key in ("accuracy", "mean_cosine", "balanced_accuracy"):
        result["verification"][key] = _mean_std([s["verification"][key] for s in summaries])
    truths = [s["ground_truth"] for s in summaries if s.get("ground_truth")]
    if truths:
        result["ground_truth"] = {
            "metrics": {name: _mean_std([t["metrics"][name]["value"] for t in truths])
                        for name in truths[0]["metrics"]},
            "per_expression": {e: {name: _mean_std([t["per_expression"][e][name] for t in truths])
                                   for name in truths[0]["per_expression"][e]} for e in truths[0]["per_expression"]},
        }
    owns = [s["own_edit"] for s in summaries if s.get("own_edit")]
    if owns:
        result["own_edit"] = {"learned_response": _mean_std([o["learned_response"]["value"] for o in owns]),
                              "gain": _mean_std([o.get("gain") for o in owns])}
    curves = [s["interpolation"] for s in summaries if (s.get("interpolation") or {}).get("mean")]
    if curves:
        result["interpolation"] = {
            "alphas": curves[0]["alphas"],
            "mean": [_mean_std([c["mean"][i] for c in curves]) for i in range(len(curves[0]["alphas"]))],
            "monotone_share": _mean_std([c["monotone_share"] for c in curves]),
            "n_pairs": min(c["n_pairs"] for c in curves),
            "definition": curves[0]["definition"],
        }
        truths = [c["ground_truth"] for c in curves if c.get("ground_truth")]
        if truths:
            steps = range(len(curves[0]["alphas"]))
            result["interpolation"]["ground_truth"] = {
                key: [_mean_std([t[key][i] for t in truths]) for i in steps] for key in ("mean", "edit")}
    return result
