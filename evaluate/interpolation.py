"""How far Eq. 8's interpolation moves the face along the asked AU change, read by the estimator.

For a pair (source with labels u_s, target AUs u_t) the method renders I(alpha) = G(l_s | u_s +
alpha (u_t - u_s)). The *response* at alpha is the estimator's change from the alpha = 0 frame,
projected on the asked change: r(alpha) = <u_hat(alpha) - u_hat(0), d> / <d, d> with d = u_t - u_s,
over the AUs the dataset codes (the AU vectors a method is conditioned on: DISFA's 12).
r = 1 means the frame moved by exactly the asked change, r = 0 that it did not move (or moved in
an unrelated direction). The paper shows these strips as pictures only; this puts a number on
"the expression changes along alpha".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from eggan.core.interpolate import interpolate
from eggan.core.method import Method
from eggan.data.aus import select_coded
from eggan.data.dataset import FaceDataset
from eggan.data.ideal import IdealRenderer
from evaluate.au import AUEstimator
from evaluate.groundtruth import pair_scores, pixel_projection
from evaluate.metrics import finite_or_none
from evaluate.pairs import row_indices

MIN_CHANGE = 1.0  # pairs whose asked change has a smaller L2 norm (0-5 scale) say little about a response


def interpolation_response(method: Method, dataset: FaceDataset, pairs: pd.DataFrame, estimator: AUEstimator,
                           steps: int = 5, count: int = 256, batch_size: int = 64,
                           renderer: IdealRenderer | None = None) -> dict[str, Any]:
    """Mean and median response at each alpha over the first ``count`` pairs, and the share of pairs
    whose response never decreases along alpha (by more than 0.05).

    With a ``renderer`` (SynthFACS) each frame is also scored against the ideal render at its
    alpha: the ground-truth response r*(alpha) = <I(alpha) - I(0), ideal - source> / |ideal -
    source|^2 in pixels (the same projection as r, on the images instead of the estimator's
    readings) and the edit score against the ideal frame (evaluate.groundtruth)."""
    pairs = pairs.head(count)
    source_rows = row_indices(dataset, pairs["source_path"])
    target_rows = row_indices(dataset, pairs["target_path"])
    alphas = torch.linspace(0, 1, steps).tolist()
    responses, truths, edits = [], [], []
    for chunk in torch.arange(len(pairs)).split(batch_size):
        source, target = dataset.batch(source_rows[chunk]), dataset.batch(target_rows[chunk])
        frames = interpolate(method, source.image, source.aus, target.aus, steps)  # steps x B x 3 x H x W
        read = torch.stack([estimator.estimate(frame, [f"interpolation_{k}_{int(i)}" for i in chunk]).aus
                            for k, frame in enumerate(frames)])  # steps x B x 17; keys name files for OpenFace
        read = select_coded(read, dataset.coded_aus)  # the AUs u_s and u_t have: those the dataset codes
        responses.append(projected_change(read[:1], read, source.aus, target.aus))  # steps x B
        if renderer is not None:
            where = (list(pairs["source_path"].iloc[chunk.numpy()]), target.aus,
                     list(pairs["expression"].iloc[chunk.numpy()]))
            ideal = [renderer.render(*where, alpha=alpha) for alpha in alphas]
            truths.append(pixel_projection(frames[0], frames, source.image, ideal[-1]))
            edits.append(torch.stack([torch.from_numpy(pair_scores(source.image, i, f, None)["edit"])
                                      for i, f in zip(ideal, frames, strict=True)]))
    r = torch.cat(responses, dim=1).numpy()
    kept = np.isfinite(r).all(axis=0)
    r = r[:, kept]
    if r.shape[1] == 0:
        return {"alphas": alphas, "n_pairs": 0, "mean": None, "median": None, "monotone_share": None}
    monotone = (np.diff(r, axis=0) >= -0.05).all(axis=0)
    result = {
        "alphas": alphas,
        "n_pairs": int(r.shape[1]),
        "mean": [float(v) for v in r.mean(axis=1)],
        "median": [float(v) for v in np.median(r, axis=1)],
        "monotone_share": float(monotone.mean()),
        "definition": "response r(alpha) = <u_hat(alpha) - u_hat(0), u_t - u_s> / |u_t - u_s|^2 over the "
                      f"{len(dataset.coded_aus)} coded AUs, estimator readings; pairs with |u_t - u_s| < "
                      f"{MIN_CHANGE} left out",
    }
    if truths:
        truth = torch.cat(truths, dim=1).numpy()[:, kept]
        edit = torch.cat(edits, dim=1).numpy()[:, kept]
        result["ground_truth"] = {
            "mean": [finite_or_none(v) for v in _nanmean_rows(truth)],
            "edit": [finite_or_none(v) for v in _nanmean_rows(edit)],
            "definition": "r*(alpha) = <I(alpha) - I(0), ideal - source> / |ideal - source|^2 in pixels; edit "
                          "score of each frame against the ideal render at its alpha",
        }
    return result


def _nanmean_rows(values: np.ndarray) -> list[float]:
    """Row means over the finite entries (NaN for a row with none)."""
    finite = np.isfinite(values)
    totals = np.where(finite, values, 0.0).sum(axis=1)
    counts = finite.sum(axis=1)
    return [float(t / c) if c else float("nan") for t, c in zip(totals, counts, strict=True)]


def projected_change(before: torch.Tensor, after: torch.Tensor, source_aus: torch.Tensor, target_aus: torch.Tensor
                     ) -> torch.Tensor:
    """Per pair: the AU change read from ``before`` to ``after``, projected on the asked change
    u_t - u_s and divided by its squared length (1 = exactly the asked change); NaN where the asked
    change is shorter than ``MIN_CHANGE`` (it says little about a response)."""
    asked = (target_aus - source_aus).cpu()
    response = ((after - before) * asked).sum(-1) / (asked * asked).sum(-1).clamp_min(1e-8)
    return torch.where(asked.norm(dim=-1) >= MIN_CHANGE, response, torch.full_like(response, float("nan")))
