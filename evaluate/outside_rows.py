"""The rows of methods scored from folders of their outputs (``RUN/outside/<name>/seed<k>/``).

A registered folder (``evaluate.outside.score_folder``) is scored like a trained seed: the same
pairs, evaluators and per-pair files. Its row is rebuilt at every evaluation, so it stays in the
tables; a folder whose content changed since its summary was saved (its sha256), or whose
evaluators did, is scored again, and one made for another pair list is never scored on these.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from eggan.data.dataset import FaceDataset
from eggan.io import atomic_write_json
from evaluate.au import AUEstimator
from evaluate.examples import encode_levels, example_pairs
from evaluate.identity import Verifier
from evaluate.outputs import OUTSIDE_DIR, outputs_sha256, read_outputs
from evaluate.protocol import Reference, score_outputs, write_pair_frame
from evaluate.run_data import seed_folders
from evaluate.seeds import aggregate

EXAMPLE_OUTPUTS = 16  # an outside row keeps its outputs of this many example pairs, for the comparison figure


def find_outside(run_dir: Path) -> dict[str, dict[int, Path]]:
    """name -> seed -> registration folder, for every ``outside/<name>/seed<k>/source.json``."""
    return seed_folders(run_dir / OUTSIDE_DIR, "source.json")


def outside_row(name: str, seeds: dict[int, Path], dataset: FaceDataset, pairs: pd.DataFrame, au: AUEstimator,
                ver: Verifier, reference: Reference, stamp: dict[str, Any], batch_size: int, rounds: int,
                log: Callable[[str], None]) -> dict[str, Any] | None:
    """The row of a method scored from folders of its outputs (one per seed), rescored where a
    folder's content changed since its summary was saved or the evaluators did. A folder that is
    gone keeps the score of the content it had, said in the log; with no saved score it is left out."""
    pair_ids = [int(p) for p in pairs["pair"]]
    summaries: dict[str, dict[str, Any]] = {}
    origins: dict[str, dict[str, str]] = {}
    examples: dict[str, str] = {}
    for k, folder in sorted(seeds.items()):
        registered = json.loads((folder / "source.json").read_text())
        outputs = Path(registered["outputs"])
        if registered.get("pairs_sha256") != stamp["pairs_sha256"]:  # outputs of other pairs: never scored on these
            log(f"{name}/seed{k}: {outputs} was made for another pair list (sha256 "
                f"{str(registered.get('pairs_sha256'))[:12]}, now {stamp['pairs_sha256'][:12]}); left out, "
                "score it again")
            continue
        saved = folder / "summary.json"
        previous = json.loads(saved.read_text()) if saved.is_file() else None
        if previous is not None and previous.get("evaluators") != stamp:
            previous = None
        if not outputs.is_dir():
            if previous is None:
                log(f"{name}/seed{k}: {outputs} is gone and was never scored with these evaluators; left out")
                continue
            log(f"{name}/seed{k}: {outputs} is gone; kept the score of its content sha256 {previous['sha256'][:12]}")
            sha = previous["sha256"]
        else:
            try:
                sha = outputs_sha256(outputs, pair_ids)
            except OSError:  # a file is missing: read_outputs below names it
                sha = None
        if previous is not None and previous["sha256"] == sha:
            log(f"{name}/seed{k}: up to date (outputs sha256 {sha[:12]}), skipped")
        else:
            images = read_outputs(outputs, pair_ids, dataset.image_size)  # whole, or one line naming what is not
            sha = sha or outputs_sha256(outputs, pair_ids)
            frame, summary = score_outputs(
                lambda chunk, _source, _target, images=images: (images[chunk].float().div(127.5).sub(1.0), None),
                dataset, pairs, au, ver, reference, batch_size, f"{name}_seed{k}", rounds)
            chosen = example_pairs(pairs, EXAMPLE_OUTPUTS)
            previous = {"label": name, "seed": k, "outputs": str(outputs), "sha256": sha, "evaluators": stamp,
                        "summary": summary,
                        "examples": {str(pair_ids[i]): encode_levels(images[i]) for i in chosen}}
            write_pair_frame(frame, folder)
            atomic_write_json(saved, previous)
            log(f"{name}/seed{k}: {summary['n_pairs']} pairs from {outputs} (sha256 {sha[:12]})")
        summaries[str(k)] = previous["summary"]
        origins[str(k)] = {"outputs": previous["outputs"], "sha256": previous["sha256"]}
        examples = examples or previous["examples"]
    if not summaries:
        return None
    return {"label": name, "kind": "method", "method": None, "seeds": summaries, "checkpoint_steps": {},
            "metadata": None, "outside": origins, "examples": examples,
            "summary": aggregate(list(summaries.values()))}
