"""Evaluate every trained run of a benchmark directory on one pair list with one pair of evaluators.

Layout read: ``RUN/train/<label>/seed<k>/{config.json, checkpoint.pt}`` (``eggan.core.train.train_run``;
label = method name or an ablation label such as ``eggan-wtP``), or one ``train --out`` folder with
``config.json`` and ``checkpoint.pt`` directly inside (``find_runs``). Layout written (atomically):

    RUN/eval/pairs.csv                 the (source, target, impostor) pairs, identical for all rows
    RUN/eval/evaluators.json           estimator and verifier metadata, own held-out accuracies, threshold
    RUN/eval/reference/<row>/pairs.csv per-pair results of "Source (no edit)" (and "Ideal", "Ideal, blurred
                                        1 px" on SynthFACS)
    RUN/eval/<label>/seed<k>/pairs.csv per-pair results; summary.json beside it
    RUN/outside/<name>/seed<k>/        a folder of another method's outputs, registered by `score`
                                       (source.json), scored here like a seed (pairs.csv, summary.json)
    RUN/results.json                   everything the report needs (the report reads nothing else)

Re-running skips a seed whose ``summary.json`` matches its checkpoint's step and the evaluators,
and an outside folder whose summary matches the folder's content hash and the evaluators: the rows
of outside folders are rebuilt from ``RUN/outside`` at every evaluation, so they stay in the tables.
Each command here holds the run folder's lock while it works (``eggan.core.lock``): a folder that
`run` is still training is refused in one line, never scored half-way. results.json is merged, not
replaced (``evaluate.results_store``): the parts evaluation does not compute (``throughput``,
``examples``, and any key another command adds) are kept.

results.json schema (``format`` = ``eggan-bench-results/1``)::

    {"format": str,
     "meta": {"run": str, "created": ISO time, "environment": {versions, device, torch_threads},
              "dataset": FaceDataset.describe() + {"labels": what the index labels are,
                          "other_data": {"<label> seed <k>": {trained_on, earlier, scored_on}}},
                          # other_data only for models allowed to be scored on other data
                          # than they learned from (eggan.core.provenance)
              "protocol": {n_pairs, per_expression_requested, per_expression_used, seed,
                           targets_from, sources_from, source_identities, au_scale, average,
                           na_policy, excluded_rows, ci, verification},
              "evaluators": {"estimator": {...}, "verifier": {...}},    # = evaluators.json
                  # verifier: name, threshold, calibration and, for a released LightCNN, weights (path),
                  # sha256, weights_verified, checked_against, aligned and alignment (docs/lightcnn-input.md)
              "ground_truth": {"available": bool, "why" | "definitions", ...}},  # ideal renders (SynthFACS)
     "au_names": ["AU01", ...],            # the 17 AUs in table order
     "coded_aus": ["AU01", ...],           # those the dataset codes (DISFA: 12): the only ones scored and
                                           # averaged; the others have no per_au entry (tables: n/c)
     "metrics": {"mse": {"higher_is_better": false}, ...},
     "rows": [Row, ...],                   # "Source (no edit)", each label (sorted), "Ideal" and
                                           # "Ideal, blurred 1 px" (SynthFACS), "Real"
     "throughput": {label: throughput.measure(...)} | null,  # `eggan-bench throughput --run`, if measured
     "examples": {...},                    # added by eggan.cli.pipeline (schema in evaluate.examples)
     "significance": {"measure", "test",   # every two method rows on the per-pair AU error (evaluate.paired),
                      "tests": [{"rows": [a, b], "difference": a - b, "p", "n", "units"}]} | null}
                                           # from which Table 1 marks a row better than the next (reports.tables)

    Row = {"label": str, "kind": "reference" | "method", "method": str | null,
           "seeds": {"<k>": Summary}, "checkpoint_steps": {"<k>": int},
           "metadata": Method.metadata() of the first seed | null,
           "learning_curves": {"<k>": evaluate.monitor.read_curves(...)},  # method rows, SynthFACS
           "outside": {"<k>": {"outputs": folder, "sha256": str}},  # rows scored from a folder only
           "examples": {"<pair>": base64 PNG},                        # outside rows: the example pairs' outputs
           "summary": Summary (reference rows) | Aggregate (method rows, over seeds)}
    Summary = {"n_pairs": int, "estimator_failures": int,
               "au": {"vs_estimator": AUTable | null,   # against the estimator's reading of the target
                      "vs_labels": AUTable},            # against the dataset labels (exact on SynthFACS)
               "verification": {threshold, accuracy, mean_cosine, balanced_accuracy,
                                impostor_rejection, mean_impostor_cosine, n_genuine, n_impostor,
                                n_nonfinite},
               "seconds": float, "pairs_per_s": float,   # scoring time (method rows and Source)
               "interpolation": evaluate.interpolation.interpolation_response(...),  # AU-conditioned methods
               "own_edit": evaluate.groundtruth.own_edit_summary(...),  # rows with a reconstruction
               "ground_truth": evaluate.groundtruth.summarise_ground_truth(...),  # SynthFACS
               "note": str}                              # Real row only: what its figures mean
    AUTable = {"n_pairs", "n_used", "n_excluded", "ci_level", "bootstrap_rounds", "bootstrap_seed",
               "per_au": {metric: {AU: float | null}},               # coded AUs only; null = n/a
               "avg": {metric: {"value", "ci_low", "ci_high", "n_aus"}}}
    Aggregate = {"n_seeds": int,
                 "au": {"vs_estimator" | "vs_labels":
                        {"per_au": {metric: {AU: {"mean", "std"}}},
                         "avg": {metric: {"mean", "std", "n_aus"}}}},
                 "verification": {"accuracy" | "mean_cosine" | "balanced_accuracy": {"mean", "std"}},
                 "interpolation": {"alphas", "mean": [{"mean", "std"}, ...], "monotone_share", ...},  # if any
                 "ground_truth": {"metrics": {name: {"mean", "std"}},  # if any
                                  "per_expression": {expression: {name: {"mean", "std"}}}},
                 "own_edit": {"learned_response" | "gain": {"mean", "std"}}}  # if any
    (std is the sample standard deviation over seeds, null with one seed; mean over the seeds
    where the figure is defined.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from eggan.core.checkpoint import CHECKPOINT_NAME, load_checkpoint
from eggan.core.lock import READER_ADVICE, locked_dir
from eggan.core.method import Method
from eggan.core.registry import plugin_record
from eggan.core.runmeta import environment, select_device
from eggan.data.aus import AU_NAMES, au_list, coded_names
from eggan.data.config import DataConfig
from eggan.data.dataset import FaceDataset
from eggan.data.ideal import IdealRenderer
from eggan.errors import ConfigError, DataError
from eggan.io import atomic_write_json
from evaluate.au import AUEstimator, build_estimator, check_estimator_inputs
from evaluate.evaluators import build_verifier, check_evaluators, check_run_weights
from evaluate.groundtruth import CHANGE_LEVEL, DEFINITIONS, MIN_CHANGED, ideal_renderer
from evaluate.identity import Verifier, check_verifier_weights
from evaluate.interpolation import interpolation_response
from evaluate.metrics import HIGHER_IS_BETTER
from evaluate.monitor import read_curves
from evaluate.outputs import OUTSIDE_DIR
from evaluate.outside_rows import find_outside, outside_row
from evaluate.paired import pairwise_au_error, per_pair_au_error
from evaluate.pairs import calibrate, load_pairs, make_pairs, pairs_description, save_pairs
from evaluate.protocol import (
    Reference,
    ideal_prefix,
    prepare_reference,
    score_ideal,
    score_real,
    score_source,
    score_translation,
    write_pair_frame,
)
from evaluate.results_store import write_results
from evaluate.run_data import Loader, find_runs, run_dataset
from evaluate.seeds import aggregate

FORMAT = "eggan-bench-results/1"
SOURCE_ROW, IDEAL_ROW, REAL_ROW = "Source (no edit)", "Ideal", "Real"
# The ideal edits blurred by this Gaussian (pixels), sources alike: a right edit as soft as the CPU
# presets' reconstructions (on SynthFACS quick this blur's reconstruction PSNR is 26.2 dB, EGGAN's
# 26.3 dB), so every ground-truth column and the estimator's gain can be read against what
# softness alone costs.
IDEAL_BLUR = 1.0
BLURRED_ROW = f"Ideal, blurred {IDEAL_BLUR:g} px"
REFERENCE_FOLDERS = {SOURCE_ROW: "source", IDEAL_ROW: "ideal", BLURRED_ROW: "ideal_blurred"}
IDEAL_SIGMAS = {IDEAL_ROW: 0.0, BLURRED_ROW: IDEAL_BLUR}  # the Ideal rows (SynthFACS) and their blur
# What a saved per-seed summary was scored with: raised when the per-pair columns change, so an
# older summary is rescored rather than reused without them (2: reconstructions, ground truth).
SCORING = 2


def run_folder(run: Path | None, checkpoint: Path | None) -> Path:
    """The folder `evaluate` scores: ``run``, or the `train --out` folder holding ``checkpoint``."""
    if (run is None) == (checkpoint is None):
        raise ConfigError("give exactly one of --run and --checkpoint")
    if run is not None:
        return run
    if checkpoint.name != CHECKPOINT_NAME or not checkpoint.is_file():
        raise DataError(f"--checkpoint must be an existing {CHECKPOINT_NAME} written by `eggan-bench train`",
                        checkpoint)
    return checkpoint.parent


def evaluate_run(
    run_dir: str | Path,
    estimator: str = "learned",
    openface_csv: str | Path | None = None,
    verifier: str = "indomain",
    weights: str | Path | None = None,
    device: str = "auto",
    batch_size: int = 32,
    per_expression: int = 174,
    seed: int = 0,
    rounds: int = 1000,
    loader: Loader | None = None,
    log: Callable[[str], None] = lambda _msg: None,
    allow_other_data: bool = False,
    accept_unverified_weights: bool = False,
    accept_new_weights: bool = False,
) -> dict[str, Any]:
    """Score every trained run in ``run_dir``; write per-pair files, summaries and results.json
    (merged into the file that is there: ``evaluate.results_store``).

    Models trained on other data than their dataset holds now are refused before anything is
    written, unless ``allow_other_data`` (then ``meta.dataset.other_data`` and the captions say so);
    so are verifier weights that are not the released file, unless ``accept_unverified_weights``,
    and weights other than those the folder was evaluated with, unless ``accept_new_weights``
    (``check_run_weights``).
    """
    check_evaluators(estimator, verifier, batch_size)
    check_estimator_inputs(estimator, openface_csv)  # a missing OpenFace is said before the run is read
    run_dir = Path(run_dir)
    torch_device = select_device(device)
    if loader is None:
        from eggan.core.train import load_trained as loader
    with locked_dir(run_dir, log, READER_ADVICE):
        return _evaluate(run_dir, estimator, openface_csv, verifier, weights, torch_device, batch_size,
                         per_expression, seed, rounds, loader, log, allow_other_data, accept_unverified_weights,
                         accept_new_weights)


def _evaluate(run_dir: Path, estimator: str, openface_csv: str | Path | None, verifier: str,
              weights: str | Path | None, torch_device: torch.device, batch_size: int, per_expression: int,
              seed: int, rounds: int, loader: Loader, log: Callable[[str], None],
              allow_other_data: bool, accept_unverified_weights: bool, accept_new_weights: bool) -> dict[str, Any]:
    eval_dir = run_dir / "eval"
    runs = find_runs(run_dir)
    check_verifier_weights(verifier, weights, accept_unverified_weights)
    check_run_weights(run_dir, verifier, weights, accept_new_weights)
    config, dataset, other_data = run_dataset(runs, allow_other_data)
    pairs, description = run_pairs(eval_dir, dataset, per_expression, seed)
    au = build_estimator(estimator, dataset, openface_csv, torch_device)
    renderer = ideal_renderer(config, dataset)
    outside = find_outside(run_dir)
    au.require(image_keys({**runs, **outside}, len(pairs), ideal=renderer is not None))  # every file it reads
    log(f"{len(pairs)} pairs ({description['per_expression_used']} per expression)")
    ver = build_verifier(verifier, dataset, weights, torch_device, accept_unverified_weights)
    calibration = calibrate(ver, dataset, seed=seed)  # before any generated image is scored
    log(f"verifier threshold {calibration['threshold']:.4f}, held-out accuracy {calibration['accuracy']:.4f}")
    evaluators = {"estimator": au.metadata(), "verifier": ver.metadata()}
    atomic_write_json(eval_dir / "evaluators.json", evaluators)
    stamp = evaluator_stamp(evaluators, eval_dir / "pairs.csv")

    reference = prepare_reference(dataset, pairs, au, ver, renderer=renderer)
    rows = [_reference_row(SOURCE_ROW, *score_source(dataset, pairs, au, ver, reference, batch_size, rounds),
                           eval_dir / "reference" / "source")]
    for label in sorted(runs):
        rows.append(_method_row(label, runs[label], dataset, pairs, au, ver, reference, stamp, eval_dir,
                                torch_device, loader, batch_size, rounds, log, renderer))
    for name in sorted(outside):
        row = outside_row(name, outside[name], dataset, pairs, au, ver, reference, stamp, batch_size, rounds, log)
        if row is not None:
            rows.append(row)
    if renderer is not None:
        for label, sigma in IDEAL_SIGMAS.items():
            rows.append(_reference_row(label, *score_ideal(dataset, pairs, au, ver, reference, batch_size, rounds,
                                                           sigma), eval_dir / "reference" / REFERENCE_FOLDERS[label]))
    rows.append({"label": REAL_ROW, "kind": "reference", "method": None, "seeds": {}, "checkpoint_steps": {},
                 "metadata": None, "summary": score_real(reference, au, ver, rounds)})
    results = {
        "format": FORMAT,
        "meta": {
            "run": str(run_dir),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "environment": environment(torch_device),
            "dataset": {**dataset.describe(), "labels": _label_kind(config),
                        **({"other_data": other_data} if other_data else {})},
            "protocol": {**description, **PROTOCOL_NOTES, "average": average_note(dataset.coded_aus),
                         "ci": f"95 % bootstrap over pairs, {rounds} rounds"},
            # The estimator's counts as they stand after scoring (evaluators.json keeps the stamp
            # written before it); the excluded pairs per row are in reports.results.excluded_pairs.
            "evaluators": {**evaluators, "estimator": au.metadata()},
            "ground_truth": ground_truth_note(renderer, dataset),
        },
        "au_names": list(AU_NAMES),
        "coded_aus": coded_names(dataset.coded_aus),
        "metrics": {name: {"higher_is_better": better} for name, better in HIGHER_IS_BETTER.items()},
        "rows": rows,
        "significance": row_significance(run_dir, rows, pairs),
    }
    throughput = eval_dir / "throughput.json"  # measured before the first evaluation wrote results.json
    return write_results(run_dir, results, log,
                         defaults={"throughput": json.loads(throughput.read_text()) if throughput.is_file() else None})


def row_folders(run_dir: Path, row: dict[str, Any]) -> list[Path]:
    """The folders holding a row's per-pair results (``pairs.csv``), one per seed; [] for Real,
    whose figures are not per generated pair."""
    if row["label"] in REFERENCE_FOLDERS:
        return [run_dir / "eval" / "reference" / REFERENCE_FOLDERS[row["label"]]]
    root = run_dir / OUTSIDE_DIR if row.get("outside") else run_dir / "eval"
    return [root / row["label"] / f"seed{k}" for k in sorted(row["seeds"], key=int)]


def row_significance(run_dir: Path, rows: list[dict[str, Any]], pairs: pd.DataFrame) -> dict[str, Any] | None:
    """Every two method rows compared on the per-pair AU error (``evaluate.paired``, by source
    identity), from which the tables mark a row significantly better than the next; None with
    fewer than two method rows."""
    errors = {row["label"]: np.mean([per_pair_au_error(pd.read_csv(folder / "pairs.csv"))
                                     for folder in row_folders(run_dir, row)], axis=0)
              for row in rows if row["kind"] == "method"}
    return pairwise_au_error(errors, pairs["source_identity"]) if len(errors) > 1 else None


def image_keys(runs: dict[str, dict[int, Path]], n_pairs: int, ideal: bool = False) -> list[str]:
    """The name of every image an evaluation reads: ``target_<pair>``, ``source_<pair>``, with
    ``ideal`` (SynthFACS) ``ideal_<pair>`` and ``idealblur_<pair>``, and ``<label>_seed<k>_<pair>``
    (what ``evaluate.export.export_images`` writes)."""
    prefixes = ["target", "source", *([ideal_prefix(s) for s in IDEAL_SIGMAS.values()] if ideal else []),
                *(f"{label}_seed{k}" for label, seeds in sorted(runs.items()) for k in sorted(seeds))]
    return [f"{prefix}_{i:04d}" for prefix in prefixes for i in range(n_pairs)]


def ground_truth_note(renderer: IdealRenderer | None, dataset: FaceDataset) -> dict[str, Any]:
    """What the ground-truth edit table holds, or why a run has none (captions read this)."""
    if renderer is None:
        return {"available": False,
                "why": f"{dataset.name} has no ideal renders: only SynthFACS can render the edit a perfect method "
                       "would make (the source person in its own viewing conditions with the target's AUs)"}
    return {"available": True, "ideal": "the source's identity, shift, scale and brightness rendered with the "
                                        "target's AU labels (eggan.data.ideal)",
            "change_level": CHANGE_LEVEL, "min_changed_pixels": MIN_CHANGED, "definitions": DEFINITIONS}


def run_pairs(eval_dir: Path, dataset: FaceDataset, per_expression: int, seed: int
              ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The saved pair list of this run directory, made and saved on first use."""
    pairs_path = eval_dir / "pairs.csv"
    described = eval_dir / "pairs.json"
    if pairs_path.is_file():
        pairs = load_pairs(pairs_path, dataset)
        description = (json.loads(described.read_text()) if described.is_file()
                       else pairs_description(pairs, per_expression, None, seed))
        return pairs, description
    pairs = make_pairs(dataset, per_expression, seed)
    save_pairs(pairs, pairs_path)
    atomic_write_json(described, dict(pairs.attrs))
    return pairs, dict(pairs.attrs)


PROTOCOL_NOTES = {
    "au_scale": "0-5 (OpenFace intensity scale)",
    "na_policy": "an AU with zero variance in targets or predictions has no PCC (n/a), left out of the "
                 "PCC average; n_aus says how many AUs were averaged",
    "excluded_rows": "rows with a non-finite value or an estimator failure are excluded pairwise and counted",
    "verification": "accept when cosine >= threshold; threshold of highest accuracy on real genuine/impostor "
                    "pairs of test identities, fixed before any generated image is scored",
}


def average_note(coded: Sequence[str]) -> str:
    """What every Avg is over: the AUs the dataset codes, named when they are not all 17."""
    if len(coded) == len(AU_NAMES):
        return f"Avg = unweighted mean over the {len(AU_NAMES)} AUs of the per-AU values"
    uncoded = [name for name in AU_NAMES if name not in coded_names(coded)]
    return (f"Avg = unweighted mean of the per-AU values over the {len(coded)} AUs the dataset codes "
            f"({au_list(coded)}); {', '.join(uncoded)} are not coded (missing, not 0) and not scored")


def check_coded(method: Method, dataset: FaceDataset, checkpoint: Path) -> None:
    """A model conditioned on AUs takes the AUs its training data coded, in that order: data that
    codes others cannot give it targets (one line, before anything is scored)."""
    if method.condition == "aus" and method.info.coded_aus != dataset.coded_aus:
        raise DataError(f"trained on the AUs {au_list(method.info.coded_aus)}, but {dataset.name} "
                        f"codes {au_list(dataset.coded_aus)}; a model conditioned on AUs is scored "
                        "on data that codes the same AUs", checkpoint)


def _label_kind(config: DataConfig) -> str:
    if config.source == "synthfacs":
        return "exact ground truth (SynthFACS renders the labelled AUs)"
    return "the dataset's index labels"


def evaluator_stamp(evaluators: dict[str, Any], pairs_path: Path) -> dict[str, Any]:
    """What a saved summary must match to be reused: the evaluators' identity and the pair list."""
    estimator, verifier = evaluators["estimator"], evaluators["verifier"]
    return {"estimator": estimator.get("sha256") or estimator.get("source") or estimator["name"],
            "verifier": verifier["sha256"], "threshold": verifier["threshold"],
            "alignment": verifier.get("alignment"),
            "pairs_sha256": hashlib.sha256(pairs_path.read_bytes()).hexdigest(), "scoring": SCORING}


def _reference_row(label: str, frame: pd.DataFrame, summary: dict[str, Any], folder: Path) -> dict[str, Any]:
    write_pair_frame(frame, folder)
    atomic_write_json(folder / "summary.json", summary)
    return {"label": label, "kind": "reference", "method": None, "seeds": {}, "checkpoint_steps": {},
            "metadata": None, "summary": summary}


def _method_row(label: str, seeds: dict[int, Path], dataset: FaceDataset, pairs: pd.DataFrame, au: AUEstimator,
                ver: Verifier, reference: Reference, stamp: dict[str, Any], eval_dir: Path, device: torch.device,
                loader: Loader, batch_size: int, rounds: int, log: Callable[[str], None],
                renderer: IdealRenderer | None = None) -> dict[str, Any]:
    summaries: dict[str, dict[str, Any]] = {}
    steps: dict[str, int] = {}
    metadata = None
    for k, train_dir in sorted(seeds.items()):
        checkpoint = train_dir / CHECKPOINT_NAME
        step = int(load_checkpoint(checkpoint)["step"])
        folder = eval_dir / label / f"seed{k}"
        saved = folder / "summary.json"
        if saved.is_file():
            previous = json.loads(saved.read_text())
            if previous.get("checkpoint_step") == step and previous.get("evaluators") == stamp:
                log(f"{label}/seed{k}: up to date (step {step}), skipped")
                summaries[str(k)], steps[str(k)] = previous["summary"], step
                metadata = metadata or previous.get("metadata")
                continue
        method = loader(checkpoint, device)
        check_coded(method, dataset, checkpoint)
        frame, summary = score_translation(method.translate, dataset, pairs, au, ver, reference, batch_size,
                                           f"{label}_seed{k}", rounds)
        if method.condition == "aus" and au.reads_new_images:  # Eq. 8 applies to AU-conditioned methods
            summary["interpolation"] = interpolation_response(method, dataset, pairs, au, renderer=renderer)
        elif method.condition == "aus":
            summary["interpolation"] = {"skipped": f"the {au.name} estimator reads only the exported "
                                                   "translations; the interpolation frames were never exported"}
            log(f"{label}/seed{k}: interpolation response skipped ({summary['interpolation']['skipped']})")
        plugin = plugin_record(method.name)  # a method of another package: its name and version
        fresh = {**method.metadata(), **({"plugin": plugin} if plugin else {})}
        metadata = metadata or fresh
        write_pair_frame(frame, folder)
        atomic_write_json(saved, {"label": label, "seed": k, "checkpoint": str(checkpoint), "checkpoint_step": step,
                                  "evaluators": stamp, "metadata": fresh, "summary": summary})
        log(f"{label}/seed{k}: {summary['n_pairs']} pairs in {summary['seconds']} s")
        summaries[str(k)], steps[str(k)] = summary, step
    curves = {str(k): read_curves(train_dir / "metrics.jsonl") for k, train_dir in sorted(seeds.items())}
    return {"label": label, "kind": "method", "method": (metadata or {}).get("method"), "seeds": summaries,
            "checkpoint_steps": steps, "metadata": metadata, "summary": aggregate(list(summaries.values())),
            "learning_curves": {k: points for k, points in curves.items() if points}}
