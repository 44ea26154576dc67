"""Ground-truth scores of edits on SynthFACS: every output against its pair's ideal render.

A learned AU estimator can be satisfied by changes that are not the edit (speckle, colour, a few
moved pixels). SynthFACS can render the edit a perfect method would make (eggan.data.ideal), so
on it every output is also compared with that image, pixel for pixel. All terms are on 8-bit
values (0-255), summed over the three channels where a sum is taken:

- *must-change pixels* M: where the ideal and the source differ by more than ``CHANGE_LEVEL`` grey
  levels in some channel. A pair with fewer than ``MIN_CHANGED`` such pixels asks for no visible
  change: its edit score and own edit are undefined (n/a) and counted.
- *edit score*: 1 - sum_M |out - ideal| / sum_M |source - ideal|. 1 is the ideal change, 0 no
  change (or a change as far from the ideal as none), below 0 worse than no edit.
- *damage*: mean |out - source| over the pixels outside M (those that must stay as they are).
- *PSNR* and *SSIM* of the output to the ideal, over the whole image.
- *reconstruction PSNR*: the method asked for the source's own AUs / class / image, against the
  source; it bounds how close any of its edits can come.
- *own edit*: e = out - reconstruction, the change the method itself made, against the ideal
  change d = ideal - source: projection <e, d> / <d, d> (1 = the whole change) and cosine.

Every figure is a mean over the pairs where it is defined, with a 95 % bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from eggan.data.config import DataConfig
from eggan.data.dataset import FaceDataset
from eggan.data.ideal import IdealRenderer
from eggan.egg.msssim import gaussian_window, ssim_terms
from evaluate.metrics import finite_or_none, mean_with_ci

CHANGE_LEVEL = 8.0  # grey levels: a smaller difference is within the renderer's anti-aliasing noise
MIN_CHANGED = 4  # pixels: fewer must-change pixels ask for no visible edit
PIXEL_MAX = 255.0
# Below this mean ground-truth projection an output makes no measurable edit, and a gain (a ratio
# over almost nothing) would say nothing: it is n/a.
MIN_PROJECTION = 0.02
# Per-pair columns of the per-pair CSVs (prefix ``gt_``) and the summary's order.
COLUMNS = ("edit", "damage", "psnr", "ssim", "recon_psnr", "own_projection", "own_cosine")
HIGHER_IS_BETTER = {"edit": True, "damage": False, "psnr": True, "ssim": True, "recon_psnr": True,
                    "own_projection": True, "own_cosine": True}
DEFINITIONS = {
    "edit": f"1 - sum|out - ideal| / sum|source - ideal| over the pixels the edit must change (ideal and "
            f"source differ by > {CHANGE_LEVEL:g}/255)",
    "damage": "mean |out - source| over the pixels that must stay the same, grey levels (0-255)",
    "psnr": "PSNR of the output to the ideal render, dB",
    "ssim": "SSIM of the output to the ideal render (Gaussian window, per channel)",
    "recon_psnr": "PSNR of the method's reconstruction (asked for the source's own target) to the source, dB",
    "own_projection": "<out - reconstruction, ideal - source> / |ideal - source|^2",
    "own_cosine": "cosine of out - reconstruction and ideal - source",
}


def ideal_renderer(config: DataConfig, dataset: FaceDataset) -> IdealRenderer | None:
    """The renderer of ideal edits where the data is SynthFACS (the only data that has them)."""
    return IdealRenderer(dataset.root) if config.source == "synthfacs" else None


def to_levels(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images (or uint8) as float64 grey levels 0-255, rounded as an 8-bit PNG stores them."""
    if images.dtype == torch.uint8:
        return images.double()
    return ((images.detach().double().cpu().clamp(-1, 1) + 1) * 127.5).round()


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of two N x C x H x W level batches; inf for identical images."""
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(PIXEL_MAX**2 / mse)


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004) on levels: 11x11 window of sigma 1.5, or 7x7 of sigma 1.0
    below 64 px (as EGGAN's MS-SSIM settings), valid convolution, averaged over channels."""
    size, sigma = (11, 1.5) if a.shape[-1] >= 64 else (7, 1.0)
    window = gaussian_window(size, sigma, a.shape[1], a)
    return ssim_terms(a, b, window, data_range=PIXEL_MAX)[0]


def pair_scores(source: torch.Tensor, ideal: torch.Tensor, output: torch.Tensor,
                reconstruction: torch.Tensor | None) -> dict[str, np.ndarray]:
    """Per-pair ground-truth columns of one batch (images in [-1, 1] or uint8, N x 3 x H x W).

    ``reconstruction`` None (a row without one: no edit, the ideal itself, an outside folder)
    leaves the reconstruction and own-edit columns n/a."""
    s, i, o = to_levels(source), to_levels(ideal), to_levels(output)
    asked = (i - s).abs()
    must = must_change(s, i)
    changed = must.flatten(1).sum(1)
    defined = changed >= MIN_CHANGED
    must3 = must.expand_as(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        miss = ((o - i).abs() * must3).flatten(1).sum(1) / (asked * must3).flatten(1).sum(1)
        keep = (~must3).flatten(1).sum(1)
        damage = ((o - s).abs() * ~must3).flatten(1).sum(1) / keep
    nan = torch.full_like(miss, float("nan"))
    columns = {
        "changed_pixels": changed.double(),
        "edit": torch.where(defined, 1 - miss, nan),
        "damage": torch.where(keep > 0, damage, nan),
        "psnr": psnr(o, i),
        "ssim": ssim(o, i),
        "recon_psnr": nan, "own_projection": nan, "own_cosine": nan,
    }
    if reconstruction is not None:
        r = to_levels(reconstruction)
        e, d = (o - r).flatten(1), (i - s).flatten(1)
        cosine = (e * d).sum(1) / (e.norm(dim=1) * d.norm(dim=1))
        columns["recon_psnr"] = psnr(r, s)
        columns["own_projection"] = pixel_projection(reconstruction, output, source, ideal)
        columns["own_cosine"] = torch.where(defined & torch.isfinite(cosine), cosine, nan)
    return {name: value.numpy() for name, value in columns.items()}


def pixel_projection(before: torch.Tensor, after: torch.Tensor, source: torch.Tensor, ideal: torch.Tensor
                     ) -> torch.Tensor:
    """Per image: the pixel change from ``before`` to ``after`` (8-bit levels) projected on the ideal
    change ideal - source and divided by its squared length; NaN where the ideal asks for no
    visible change (``must_change``)."""
    b, a, s, i = (to_levels(x) for x in (before, after, source, ideal))
    d = (i - s).flatten(-3)
    response = ((a - b).flatten(-3) * d).sum(-1) / (d * d).sum(-1)
    asked = must_change(s, i).flatten(-3).sum(-1) >= MIN_CHANGED
    return torch.where(asked, response, torch.full_like(response, float("nan")))


def must_change(source: torch.Tensor, ideal: torch.Tensor) -> torch.Tensor:
    """The pixels (... x 1 x H x W) where the ideal edit differs from the source by more than
    ``CHANGE_LEVEL`` grey levels in some channel (levels in, see ``to_levels``)."""
    return (ideal - source).abs().amax(dim=-3, keepdim=True) > CHANGE_LEVEL


def concat_scores(parts: Sequence[dict[str, np.ndarray]]) -> pd.DataFrame:
    """Per-pair ground-truth columns of several batches, prefixed ``gt_`` as in pairs.csv."""
    return pd.DataFrame({f"gt_{name}": np.concatenate([p[name] for p in parts]) for name in parts[0]})


def summarise_ground_truth(frame: pd.DataFrame, rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Means with 95 % bootstrap intervals of every ``gt_`` column, overall and per target
    expression (``frame`` has the per-pair ``gt_`` columns and ``expression``)."""
    overall = {name: mean_with_ci(frame[f"gt_{name}"].to_numpy(), rounds, seed) for name in COLUMNS}
    per_expression = {
        expression: {name: mean_with_ci(group[f"gt_{name}"].to_numpy(), 0, seed)["value"] for name in COLUMNS}
        for expression, group in frame.groupby("expression", sort=True)
    }
    return {
        "n_pairs": len(frame),
        "n_no_change": int((frame["gt_changed_pixels"] < MIN_CHANGED).sum()),
        "metrics": overall,
        "per_expression": per_expression,
    }


def own_edit_summary(frame: pd.DataFrame, rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The estimator's reading of a row's own edit (``own_response``: the AU change it reads from
    the reconstruction to the output, projected on the asked change) and, with ground truth, its
    *gain*: that reading divided by the ground-truth projection of the same edit, over the pairs
    where both are defined. A gain of 1 means the estimator reads as much change as the pixels
    hold; well above 1, it reads changes that are not there (a method can satisfy it without
    making the edit)."""
    learned = frame["own_response"].to_numpy(np.float64)
    summary: dict[str, Any] = {"learned_response": mean_with_ci(learned, rounds, seed)}
    if "gt_own_projection" in frame:
        truth = frame["gt_own_projection"].to_numpy(np.float64)
        both = np.isfinite(learned) & np.isfinite(truth)
        read, made = learned[both].mean() if both.any() else np.nan, truth[both].mean() if both.any() else np.nan
        summary.update(n_both=int(both.sum()), learned_on_both=finite_or_none(read), truth_on_both=finite_or_none(made),
                       gain=finite_or_none(read / made) if made > MIN_PROJECTION else None)
    return summary
