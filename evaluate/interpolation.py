"""How far Eq. 8's interpolation moves the face along the asked AU change, read by the estimator.

For a pair (source with labels u_s, target AUs u_t) the method renders I(alpha) = G(l_s | u_s +
alpha (u_t - u_s)). The *response* at alpha is the estimator's change from the alpha = 0 frame,
projected on the asked change: r(alpha) = <u_hat(alpha) - u_hat(0), d> / <d, d> with d = u_t - u_s.
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
from eggan.data.dataset import FaceDataset
from evaluate.au import AUEstimator
from evaluate.pairs import row_indices

MIN_CHANGE = 1.0  # pairs whose asked change has a smaller L2 norm (0-5 scale) say little about a response


def interpolation_response(method: Method, dataset: FaceDataset, pairs: pd.DataFrame, estimator: AUEstimator,
                           steps: int = 5, count: int = 256, batch_size: int = 64) -> dict[str, Any]:
    """Mean and median response at each alpha over the first ``count`` pairs, and the share of pairs
    whose response never decreases along alpha (by more than 0.05)."""
    pairs = pairs.head(count)
    source_rows = row_indices(dataset, pairs["source_path"])
    target_rows = row_indices(dataset, pairs["target_path"])
    responses = []
    for chunk in torch.arange(len(pairs)).split(batch_size):
        source, target = dataset.batch(source_rows[chunk]), dataset.batch(target_rows[chunk])
        frames = interpolate(method, source.image, source.aus, target.aus, steps)  # steps x B x 3 x H x W
        read = torch.stack([estimator.estimate(frame, [f"interpolation_{k}_{int(i)}" for i in chunk]).aus
                            for k, frame in enumerate(frames)])  # steps x B x 17; keys name files for OpenFace
        asked = (target.aus - source.aus).cpu()
        moved = read - read[:1]
        responses.append((moved * asked).sum(-1) / (asked * asked).sum(-1).clamp_min(1e-8))  # steps x B
        responses[-1][:, asked.norm(dim=1) < MIN_CHANGE] = float("nan")
    r = torch.cat(responses, dim=1).numpy()
    r = r[:, np.isfinite(r).all(axis=0)]
    alphas = torch.linspace(0, 1, steps).tolist()
    if r.shape[1] == 0:
        return {"alphas": alphas, "n_pairs": 0, "mean": None, "median": None, "monotone_share": None}
    monotone = (np.diff(r, axis=0) >= -0.05).all(axis=0)
    return {
        "alphas": alphas,
        "n_pairs": int(r.shape[1]),
        "mean": [float(v) for v in r.mean(axis=1)],
        "median": [float(v) for v in np.median(r, axis=1)],
        "monotone_share": float(monotone.mean()),
        "definition": "response r(alpha) = <u_hat(alpha) - u_hat(0), u_t - u_s> / |u_t - u_s|^2, "
                      f"estimator readings; pairs with |u_t - u_s| < {MIN_CHANGE} left out",
    }
