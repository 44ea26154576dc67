"""Example images for the paper's figures, stored in ``results.json`` as base64 PNGs.

The same few protocol pairs (one per expression, in order) are translated by every trained label
(first seed), and EGGAN's Eq. 8 strips are taken on them, so the comparison, ablation and
interpolation figures show the same faces and can be rebuilt from ``results.json`` alone.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from PIL import Image

from eggan.core.checkpoint import CHECKPOINT_NAME, load_checkpoint
from eggan.core.interpolate import interpolate
from eggan.core.method import Method
from eggan.data.dataset import FaceDataset, Target
from eggan.data.ideal import IdealRenderer
from evaluate.pairs import load_pairs, row_indices
from evaluate.run_data import find_runs


def encode(image: torch.Tensor) -> str:
    """One 3 x H x W image in [-1, 1] as a base64 PNG."""
    pixels = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def encode_levels(image: torch.Tensor) -> str:
    """One 3 x H x W uint8 image (a render) as a base64 PNG."""
    return encode(image.float().div(127.5).sub(1.0))


def example_pairs(pairs: pd.DataFrame, count: int) -> list[int]:
    """One pair per expression in turn, each from a different source identity where possible."""
    chosen: list[int] = []
    by_expression = [list(group.index) for _, group in pairs.groupby("expression", sort=True)]
    used: set[str] = set()
    for round_ in range(max(len(g) for g in by_expression)):
        for group in by_expression:
            if len(chosen) == count:
                return chosen
            fresh = [i for i in group if pairs.at[i, "source_identity"] not in used and i not in chosen]
            pick = fresh[0] if fresh else group[round_ % len(group)]
            if pick not in chosen:
                chosen.append(int(pick))
                used.add(pairs.at[pick, "source_identity"])
    return chosen


def collect_examples(
    run_dir: str | Path,
    dataset: FaceDataset,
    loader: Callable[[Path, torch.device], Method],
    device: torch.device,
    count: int = 8,
    steps: int = 7,
    renderer: IdealRenderer | None = None,
) -> dict[str, Any]:
    """Translations of ``count`` protocol pairs by every label, and Eq. 8 strips of EGGAN; with a
    ``renderer`` (SynthFACS) the pairs' ideal edits and ideal strips too."""
    run = Path(run_dir)
    pairs = load_pairs(run / "eval" / "pairs.csv", dataset)
    chosen = example_pairs(pairs, count)
    picked = pairs.loc[chosen]
    source = dataset.batch(row_indices(dataset, picked["source_path"]))
    target = dataset.batch(row_indices(dataset, picked["target_path"]))
    examples: dict[str, Any] = {
        "image_size": dataset.image_size,
        "pairs": [int(p) for p in picked["pair"]],
        "target_expressions": list(picked["expression"]),
        "source": [encode(x) for x in source.image],
        "target": [encode(x) for x in target.image],
        "generated": {},
        "checkpoint_steps": {},
        "interpolation": None,
    }
    where = (list(picked["source_path"]), target.aus, list(picked["expression"]))  # what an ideal render needs
    if renderer is not None:
        examples["ideal"] = [encode_levels(x) for x in renderer.render(*where)]
    for label, seeds in sorted(find_runs(run).items()):
        checkpoint = seeds[min(seeds)] / CHECKPOINT_NAME
        method = loader(checkpoint, device)
        examples["checkpoint_steps"][label] = int(load_checkpoint(checkpoint)["step"])
        generated = method.translate(source.image, Target.from_batch(target))
        examples["generated"][label] = [encode(x) for x in generated]
        if label == "eggan":
            frames = interpolate(method, source.image, source.aus, target.aus, steps)  # steps x B x 3 x H x W
            alphas = torch.linspace(0, 1, steps).tolist()
            examples["interpolation"] = {
                "label": label,
                "alphas": alphas,
                "strips": [[encode(frames[s, b]) for s in range(steps)] for b in range(frames.shape[1])],
            }
            if renderer is not None:
                ideal = torch.stack([renderer.render(*where, alpha=alpha) for alpha in alphas])  # steps x B x ...
                examples["interpolation"]["ideal_strips"] = [[encode_levels(ideal[s, b]) for s in range(steps)]
                                                             for b in range(ideal.shape[1])]
    return examples
