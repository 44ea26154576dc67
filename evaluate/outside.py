"""Methods that are not ours: the protocol exported as plain files, and a folder of outputs scored.

``export_protocol`` writes everything a method in another framework needs to make its outputs,
with nothing of this package to import: the source and target images as PNGs, ``pairs.csv``
(ids, expressions, identities, the 17 target and source AU intensities, empty for an AU the
dataset does not code, the original paths) and ``protocol.json`` (image size, AU order and scale,
the coded AUs, the dataset's fingerprint, the hash of the pair list, the output layout).
``score_folder`` checks a folder of its outputs whole (``evaluate.outputs``), registers it under
``RUN/outside/<name>/seed<k>/`` and evaluates the run:
the folder becomes a row of every table, scored by the run's evaluators on the run's pairs, and
stays one at every later ``evaluate`` (``evaluate.outside_rows``). ``write_outputs`` is the route
from Python: any object with ``Method.translate`` (a method of your own, never registered or
packaged) writes such a folder for the run's pairs, and ``score_folder`` scores it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from PIL import Image

from eggan.core.lock import READER_ADVICE, locked_dir
from eggan.core.method import Method
from eggan.data.aus import AU_COLUMNS, AU_NAMES, EXPRESSIONS, coded_names
from eggan.data.dataset import FaceDataset, Target
from eggan.errors import DataError, OutputError
from eggan.io import atomic_write_json, output_errors
from evaluate.evaluation import (
    BLURRED_ROW,
    IDEAL_ROW,
    PROTOCOL_NOTES,
    REAL_ROW,
    SOURCE_ROW,
    evaluate_run,
    run_pairs,
)
from evaluate.evaluators import check_run_weights
from evaluate.groundtruth import to_levels
from evaluate.outputs import OUTSIDE_DIR, check_name, output_name, outputs_sha256, read_outputs
from evaluate.pairs import row_indices
from evaluate.run_data import find_runs, run_dataset

PROTOCOL_FORMAT = "eggan-bench-protocol/1"


def pairs_sha256(run_dir: Path) -> str:
    """The hash of the run's saved pair list: what every scored row's evaluator stamp records."""
    return hashlib.sha256((run_dir / "eval" / "pairs.csv").read_bytes()).hexdigest()


def _bench(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "bench.json"
    return json.loads(path.read_text()) if path.is_file() else {}


EVALUATOR_OPTIONS = ("estimator", "openface_csv", "verifier", "weights")


def run_evaluators(run_dir: Path, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with every evaluator option it leaves unset (None) taken from the run's
    ``bench.json``: an outside row is scored with the evaluators the run's rows were, so adding a
    row never rescores the whole run with the command's defaults instead (a LightCNN run read by
    the in-domain verifier would change what every table means)."""
    bench = _bench(run_dir)
    resolved = {k: v for k, v in given.items() if v is not None}
    for key in EVALUATOR_OPTIONS:
        if key not in resolved and bench.get(key) is not None:
            resolved[key] = bench[key]
    return resolved


def run_protocol(run_dir: Path, allow_other_data: bool = False) -> tuple[FaceDataset, pd.DataFrame]:
    """The run's dataset and its saved pairs (made on first use with the run's own
    ``--per-expression`` and first seed, as `run` would)."""
    runs = find_runs(run_dir)
    _, dataset, _ = run_dataset(runs, allow_other_data)
    bench = _bench(run_dir)
    pairs, _ = run_pairs(run_dir / "eval", dataset, bench.get("per_expression", 174), (bench.get("seeds") or [0])[0])
    return dataset, pairs


def export_protocol(run_dir: str | Path, out_dir: str | Path, allow_other_data: bool = False) -> Path:
    """Write the protocol of ``run_dir`` into the new folder ``out_dir`` (whole, or not at all)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise OutputError("exists and is not an empty folder; the protocol is written into a new one", out_dir)
    with locked_dir(run_dir, advice=READER_ADVICE):
        dataset, pairs = run_protocol(run_dir, allow_other_data)
        sha = pairs_sha256(run_dir)
    with output_errors(out_dir):
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        with output_errors(staging):
            _write_protocol(staging, dataset, pairs, sha)
            if out_dir.exists():
                out_dir.rmdir()
            os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _write_protocol(folder: Path, dataset: FaceDataset, pairs: pd.DataFrame, sha: str) -> None:
    source, target = row_indices(dataset, pairs["source_path"]), row_indices(dataset, pairs["target_path"])
    for name, rows in (("sources", source), ("targets", target)):
        (folder / name).mkdir()
        for pair, row in zip(pairs["pair"], rows.tolist(), strict=True):
            Image.fromarray(dataset.images[row].permute(1, 2, 0).numpy()).save(folder / name / output_name(pair))
    aus = dataset.all_aus.numpy()  # NaN, written as an empty cell, where the dataset codes no label
    table = pd.DataFrame({
        "pair": pairs["pair"].to_numpy(),
        "output": [output_name(p) for p in pairs["pair"]],
        "expression": pairs["expression"].to_numpy(),
        "source_identity": pairs["source_identity"].to_numpy(),
        "target_identity": pairs["target_identity"].to_numpy(),
        "source": [f"sources/{output_name(p)}" for p in pairs["pair"]],
        "target": [f"targets/{output_name(p)}" for p in pairs["pair"]],
        **{f"target_{c}": aus[target.numpy(), i] for i, c in enumerate(AU_COLUMNS)},
        **{f"source_{c}": aus[source.numpy(), i] for i, c in enumerate(AU_COLUMNS)},
        "source_path": pairs["source_path"].to_numpy(),
        "target_path": pairs["target_path"].to_numpy(),
    })
    (folder / "pairs.csv").write_text(table.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    size = dataset.image_size
    protocol = {
        "format": PROTOCOL_FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "image_size": size,
        "au_order": list(AU_NAMES),
        "au_columns": {"target": [f"target_{c}" for c in AU_COLUMNS], "source": [f"source_{c}" for c in AU_COLUMNS]},
        "au_scale": PROTOCOL_NOTES["au_scale"],
        "coded_aus": coded_names(dataset.coded_aus),
        "uncoded_aus": "an AU not in coded_aus is not coded by the dataset: its cells are empty (missing, not 0) "
                       "and no figure is computed for it",
        "au_labels": "the dataset index's labels of each target (and source) image",
        "expressions": list(EXPRESSIONS),
        "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint(), "images": len(dataset)},
        "pairs": {"n_pairs": len(pairs), "sha256": sha, "file": "pairs.csv",
                  "source_identities": int(pairs["source_identity"].nunique()),
                  "note": "the sha256 is of the run's eval/pairs.csv; `score` scores a folder on exactly these pairs"},
        "inputs": {"sources": "sources/<pair>.png", "targets": "targets/<pair>.png",
                   "pixels": f"8-bit RGB, {size}x{size}, as the methods of the run see them"},
        "outputs": {"layout": "<pair>.png, the pair id on four digits (pairs.csv's output column), e.g. "
                              f"{output_name(0)}", "files": len(pairs), "mode": "RGB", "bits": 8,
                    "size": [size, size], "nothing_else": "a folder with a missing, extra, wrongly sized or "
                    "unreadable file is refused as a whole",
                    "seeds": "one folder per seed; score each with --seed K"},
        "score": "eggan-bench score --run RUN --outputs DIR --name NAME [--seed K]",
    }
    (folder / "protocol.json").write_text(json.dumps(protocol, indent=2) + "\n")


def write_outputs(run_dir: str | Path, method: Method, out_dir: str | Path, batch_size: int = 32,
                  allow_other_data: bool = False) -> Path:
    """Write ``method.translate``'s output for every pair of ``run_dir`` into the new folder ``out_dir``
    as ``<pair>.png`` (8-bit RGB, the layout ``score_folder`` reads): the Python API's route to a
    row, through the same checked folder as any other outside method, so it is scored, kept and
    rescored like one."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise OutputError("exists and is not an empty folder; the outputs are written into a new one", out_dir)
    with locked_dir(run_dir, advice=READER_ADVICE):
        dataset, pairs = run_protocol(run_dir, allow_other_data)
    source, target = row_indices(dataset, pairs["source_path"]), row_indices(dataset, pairs["target_path"])
    with output_errors(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        for chunk in torch.arange(len(pairs)).split(batch_size):
            asked = Target.from_batch(dataset.batch(target[chunk]))
            images = method.translate(dataset.batch(source[chunk]).image, asked)
            levels = to_levels(images).to(torch.uint8).permute(0, 2, 3, 1).numpy()
            for pair, image in zip(pairs["pair"].iloc[chunk.numpy()], levels, strict=True):
                Image.fromarray(image).save(out_dir / output_name(int(pair)))
    return out_dir


def score_folder(run_dir: str | Path, outputs: str | Path, name: str, seed: int = 0,
                 log: Callable[[str], None] = lambda _msg: None, allow_other_data: bool = False,
                 **evaluation: Any) -> dict[str, Any]:
    """Check ``outputs`` whole, register it as row ``name`` (seed ``seed``) of ``run_dir`` and
    evaluate the run (``evaluation``: the options of ``evaluate_run``); returns the results.

    Nothing is written when the folder is not whole, the name is taken or the run was never
    evaluated (its pairs and evaluators are what the row is scored against)."""
    run_dir, outputs = Path(run_dir), Path(outputs).resolve()
    with locked_dir(run_dir, log, READER_ADVICE):
        runs = find_runs(run_dir)
        check_name(name, set(runs) | {SOURCE_ROW, IDEAL_ROW, BLURRED_ROW, REAL_ROW})
        if not (run_dir / "eval" / "pairs.csv").is_file():
            raise DataError("has no eval/pairs.csv: evaluate the run first (`eggan-bench evaluate --run RUN`), so "
                            "the outputs are scored on its pairs", run_dir)
        evaluation = run_evaluators(run_dir, evaluation)
        check_run_weights(run_dir, evaluation.get("verifier", "indomain"), evaluation.get("weights"),
                          evaluation.get("accept_new_weights", False))  # before the folder is registered
        dataset, pairs = run_protocol(run_dir, allow_other_data)
        pair_ids = [int(p) for p in pairs["pair"]]
        read_outputs(outputs, pair_ids, dataset.image_size)
        atomic_write_json(run_dir / OUTSIDE_DIR / name / f"seed{seed}" / "source.json", {
            "outputs": str(outputs), "sha256": outputs_sha256(outputs, pair_ids), "pairs_sha256": pairs_sha256(run_dir),
            "registered": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        return evaluate_run(run_dir, log=log, allow_other_data=allow_other_data, **evaluation)

