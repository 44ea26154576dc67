"""Learning curves against the ground truth: the edit score and the reconstruction PSNR of a fixed
held-out batch, measured while a method trains on SynthFACS.

The training loop calls the monitor with the method every ``train.monitor_every`` steps and logs
what it returns to ``metrics.jsonl``; the method itself never receives these numbers (they are
not a loss, and ``translate`` runs in eval mode without gradients, so monitoring leaves training
bit for bit as it is). The batch is ``MONITOR_PER_EXPRESSION`` protocol-style pairs per expression:
test-split sources (people the method never trains on) with training-split targets.
``read_curves`` reads the measurements back for results.json and ``figures/learning_curves.png``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from eggan.core.method import Method
from eggan.data.config import DataConfig
from eggan.data.dataset import FaceDataset, Target
from evaluate.groundtruth import ideal_renderer, pair_scores
from evaluate.metrics import finite_or_none, mean_with_ci
from evaluate.pairs import make_pairs, row_indices

MONITOR_PER_EXPRESSION = 4  # 32 pairs: a few seconds per measurement on a CPU at 32 px
# What the monitor logs (as gt_<name>), with the title figures/learning_curves.png gives each.
CURVES = {
    "edit": "edit score (1 = the ideal change)",
    "recon_psnr": "reconstruction PSNR (dB)",
    "psnr": "PSNR to the ideal edit (dB)",
    "own_projection": "own edit on the ideal change",
}

Monitor = Callable[[Method], dict[str, float | None]]


def edit_monitor(config: DataConfig, dataset: FaceDataset, seed: int = 0) -> Monitor | None:
    """The monitor of a SynthFACS run (None for data without ideal renders)."""
    renderer = ideal_renderer(config, dataset)
    if renderer is None:
        return None
    pairs = make_pairs(dataset, MONITOR_PER_EXPRESSION, seed)
    source = dataset.batch(row_indices(dataset, pairs["source_path"]))
    target = dataset.batch(row_indices(dataset, pairs["target_path"]))
    ideal = renderer.render(list(pairs["source_path"]), target.aus, list(pairs["expression"]))

    def measure(method: Method) -> dict[str, float | None]:
        edit = method.translate(source.image, Target.from_batch(target)).cpu()
        reconstruction = method.translate(source.image, Target.from_batch(source)).cpu()
        scores = pair_scores(source.image, ideal, edit, reconstruction)
        return {f"gt_{name}": mean_with_ci(scores[name], rounds=0)["value"] for name in CURVES}

    return measure


def read_curves(metrics: Path) -> list[dict[str, float | None]]:
    """The monitor's measurements in a training folder's ``metrics.jsonl``, in step order: one
    ``{"step", "gt_edit", "gt_recon_psnr", ...}`` per measurement, n/a as None; [] without the
    file or without a monitor (data that has no ideal renders). A line without a step (torn by a
    crash mid-write) is skipped, as resuming the log skips it."""
    if not metrics.is_file():
        return []
    points = []
    for line in metrics.read_text().splitlines():
        try:
            record = json.loads(line)
            step = int(record["step"])
        except (ValueError, KeyError, TypeError):
            continue
        if "gt_edit" in record:
            points.append({"step": step, **{f"gt_{name}": _number(record.get(f"gt_{name}")) for name in CURVES}})
    return sorted(points, key=lambda point: point["step"])


def _number(value: object) -> float | None:
    return finite_or_none(value) if isinstance(value, int | float) else None
