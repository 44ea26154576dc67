"""The paper's figures from ``results.json``: comparison (Fig. 2), interpolation (Fig. 3),
ablation (Fig. 4) and per-AU MSE/PCC bars; on SynthFACS also where each method changed the face
and its ground-truth learning curves.

Example images travel inside ``results.json`` (``examples``: base64 PNGs, written by the
benchmark pipeline) so that every figure can be rebuilt from that one file.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from eggan.io import atomic_write_bytes
from evaluate.monitor import CURVES
from reports.results import ABLATION_LABELS, coded_aus, display_name, method_rows

DPI = 150


def decode(png: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(png))) as image:
        return np.asarray(image.convert("RGB"))


def _save(fig: plt.Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def image_grid(columns: list[tuple[str, list[Any]]], path: Path, row_labels: list[str] | None = None,
               heat_scale: float | None = None) -> Path:
    """A grid with one titled column per (title, images); rows are examples. An image is a base64
    PNG or an array; 2-D arrays are drawn as heat maps from 0 to ``heat_scale``."""
    n_rows = len(columns[0][1])
    fig, axes = plt.subplots(n_rows, len(columns), figsize=(1.3 * len(columns), 1.3 * n_rows), squeeze=False)
    for c, (title, images) in enumerate(columns):
        for r, image in enumerate(images):
            ax = axes[r][c]
            pixels = decode(image) if isinstance(image, str) else image
            if pixels.ndim == 2:
                ax.imshow(pixels, cmap="magma", vmin=0, vmax=heat_scale)
            else:
                ax.imshow(pixels)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=8)
            if c == 0 and row_labels:
                ax.set_ylabel(row_labels[r], fontsize=7)
    fig.subplots_adjust(wspace=0.04, hspace=0.04)
    return _save(fig, path)


def generated_examples(results: dict[str, Any]) -> dict[str, list[str]]:
    """Each compared row's outputs of the example pairs, in the figures' row order: a trained
    label's from ``examples``, an outside row's from the outputs it keeps (``row["examples"]``)."""
    examples = results["examples"]
    ablations = set(ABLATION_LABELS.values())
    shown = {}
    for row in method_rows(results):
        kept = row.get("examples") or {}
        if row["label"] in ablations:
            continue
        if row["label"] in examples["generated"]:
            shown[row["label"]] = examples["generated"][row["label"]]
        elif all(str(p) in kept for p in examples["pairs"]):
            shown[row["label"]] = [kept[str(p)] for p in examples["pairs"]]
    return shown


def comparison_figure(results: dict[str, Any], path: Path) -> Path | None:
    """Fig. 2: rows of source, target, then each compared method's output."""
    examples = results.get("examples")
    if not examples:
        return None
    columns = [("Source", examples["source"]), ("Target", examples["target"])]
    columns += [("Ideal", examples["ideal"])] if examples.get("ideal") else []
    columns += [(display_name(label), pngs) for label, pngs in generated_examples(results).items()]
    return image_grid(columns, path, examples.get("target_expressions"))


def edit_map_figure(results: dict[str, Any], path: Path) -> Path | None:
    """Where each method changed the face against where it should have: |ideal - source| first,
    then |output - source| of each compared method, in grey levels (largest channel), one scale."""
    examples = results.get("examples")
    if not examples or not examples.get("ideal"):
        return None
    sources = [decode(png).astype(np.float64) for png in examples["source"]]
    columns = [("Source", [decode(png) for png in examples["source"]]),
               ("Ideal\nchange", _changes(examples["ideal"], sources))]
    columns += [(f"{display_name(label)}\nchange", _changes(pngs, sources))  # two lines: 1.3-inch columns
                for label, pngs in generated_examples(results).items()]
    return image_grid(columns, path, examples.get("target_expressions"), heat_scale=HEAT_SCALE)


# |change| (grey levels) shown at full colour: an expression's strongest changes are about this large.
HEAT_SCALE = 96


def _changes(pngs: list[str], sources: list[np.ndarray]) -> list[np.ndarray]:
    return [np.abs(decode(png).astype(np.float64) - source).max(axis=-1) for png, source in zip(pngs, sources,
                                                                                                 strict=True)]


def ablation_figure(results: dict[str, Any], path: Path) -> Path | None:
    """Fig. 4: source, target, full EGGAN and each ablation."""
    examples = results.get("examples")
    labels = ["eggan", *ABLATION_LABELS.values()]
    if not examples or not all(label in examples["generated"] for label in labels):
        return None
    columns = [("Source", examples["source"]), ("Target", examples["target"])]
    columns += [(display_name(label), examples["generated"][label]) for label in labels]
    return image_grid(columns, path, examples.get("target_expressions"))


def interpolation_figure(results: dict[str, Any], path: Path) -> Path | None:
    """Fig. 3: one strip per source, alpha from 0 (source AUs) to 1 (target AUs), then the target."""
    strips = (results.get("examples") or {}).get("interpolation")
    if not strips:
        return None
    alphas, rows = strips["alphas"], strips["strips"]
    targets = results["examples"]["target"][: len(rows)]
    labels = None
    if strips.get("ideal_strips"):  # each method strip followed by the ideal strip of the same source
        rows = [row for pair in zip(rows, strips["ideal_strips"], strict=True) for row in pair]
        targets = [t for target in targets for t in (target, target)]
        labels = [name for _ in strips["strips"] for name in (display_name(strips["label"]), "Ideal")]
    columns = [(f"α={alpha:.2f}", [strip[i] for strip in rows]) for i, alpha in enumerate(alphas)]
    columns.append(("Target", targets))
    return image_grid(columns, path, labels)


def per_au_figure(results: dict[str, Any], path: Path) -> Path:
    """Per-AU MSE and PCC of each method side by side (against the estimator's reading of the target),
    over the AUs the dataset codes (an AU it does not code has no figure, so no bar and no tick)."""
    au_names = coded_aus(results)
    rows = [r for r in results["rows"] if r["label"] not in ABLATION_LABELS.values()]
    fig, axes = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(au_names))
    for ax, metric in zip(axes, ("mse", "pcc"), strict=True):
        for i, row in enumerate(rows):
            side = "vs_labels" if row["label"] == "Real" else "vs_estimator"
            block = row["summary"]["au"].get(side)
            if block is None:
                continue
            values = [_mean(block["per_au"][metric][name]) for name in au_names]
            heights = [np.nan if v is None else v for v in values]
            ax.bar(x + (i - (len(rows) - 1) / 2) * width, heights, width, label=display_name(row["label"]))
        ax.set_ylabel(metric.upper())
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(x, au_names, rotation=45)
    axes[0].legend(ncol=min(6, len(rows)), fontsize=8, loc="upper left")
    uncoded = [name for name in results["au_names"] if name not in au_names]
    axes[0].set_title("Per-AU expression accuracy (MSE lower is better, PCC higher is better; missing bar = n/a)"
                      + (f"\n{', '.join(uncoded)} not coded by the dataset: not shown" if uncoded else ""))
    return _save(fig, path)


def learning_curve_figure(results: dict[str, Any], path: Path) -> Path | None:
    """The ground-truth monitor of every method row against the training step, one line per seed
    (a method's seeds share its colour): whether longer training would help, and when a run's
    edit or reconstruction peaked. None where no row has curves (data without ideal renders)."""
    rows = [row for row in method_rows(results) if row.get("learning_curves")]
    if not rows:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    for i, row in enumerate(rows):
        colour = f"C{i}"
        for j, (_seed, points) in enumerate(sorted(row["learning_curves"].items())):
            steps = [point["step"] for point in points]
            for ax, name in zip(axes.flat, CURVES, strict=True):
                values = [np.nan if point[f"gt_{name}"] is None else point[f"gt_{name}"] for point in points]
                ax.plot(steps, values, color=colour, lw=1.2, label=display_name(row["label"]) if j == 0 else None)
    for ax, title in zip(axes.flat, CURVES.values(), strict=True):
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("training step")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Against the ideal renders during training (the monitor's held-out pairs; one line per seed)",
                 fontsize=10)
    return _save(fig, path)


def _mean(stat: Any) -> float | None:
    return stat["mean"] if isinstance(stat, dict) else stat


def build_figures(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    made = [
        comparison_figure(results, out / "comparison.png"),
        edit_map_figure(results, out / "edit_maps.png"),
        interpolation_figure(results, out / "interpolation.png"),
        ablation_figure(results, out / "ablation.png"),
        per_au_figure(results, out / "per_au.png"),
        learning_curve_figure(results, out / "learning_curves.png"),
    ]
    return [p for p in made if p is not None]
