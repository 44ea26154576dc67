"""Which evaluators a run is scored with: their names checked before any work, the verifier built,
and the verifier's weights pinned to the run folder that was scored with them.

A table's identity column means what the weights that computed it mean: a run folder evaluated
with one LightCNN file and rescored with another would mix two verifiers in one table, so the
file's sha256 recorded in ``eval/evaluators.json`` is compared with the file given now
(``check_run_weights``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from eggan.data.dataset import FaceDataset
from eggan.errors import CheckpointError, ConfigError
from eggan.io import sha256
from evaluate.au import check_estimator
from evaluate.identity import Verifier, indomain_verifier, released_verifier
from evaluate.lightcnn import VARIANTS
from evaluate.weights import expected_path, fetch_weights

NEW_WEIGHTS_FLAG = "--accept-new-weights"


def check_evaluators(estimator: str = "learned", verifier: str = "indomain", batch_size: int = 1) -> None:
    """Evaluator names and the batch size, checked before any pair is built or model loaded."""
    check_estimator(estimator)
    if verifier != "indomain" and verifier not in VARIANTS:
        raise ConfigError(f"unknown verifier {verifier!r}; expected indomain or one of {', '.join(VARIANTS)}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")


def build_verifier(kind: str, dataset: FaceDataset, weights: str | Path | None, device: torch.device,
                   accept_unverified_weights: bool = False) -> Verifier:
    """The in-domain verifier (trained and cached per dataset) or a released LightCNN, fetched
    when no ``weights`` file is given."""
    check_evaluators(verifier=kind)
    if kind == "indomain":
        return indomain_verifier(dataset, device)
    path = weights or fetch_weights(kind, accept_unverified=accept_unverified_weights)
    return released_verifier(kind, str(path), device, accept_unverified_weights, dataset)


def check_run_weights(run_dir: Path, kind: str, weights: str | Path | None, accept_new_weights: bool = False,
                      otherwise: str = f"pass {NEW_WEIGHTS_FLAG} to rescore every row with this file") -> None:
    """One run folder, one LightCNN weights file: its identity figures were computed with the file
    whose sha256 ``eval/evaluators.json`` records, and a later evaluation with another file (a
    re-download, another variant, a file swapped at the same path) would silently change what
    Table 2 means. Refused in one line naming both hashes unless ``accept_new_weights``, which
    rescores every row with the new file (the saved summaries' stamp names the old one);
    ``otherwise`` ends the line with what the calling command offers."""
    saved = run_dir / "eval" / "evaluators.json"
    if kind == "indomain" or accept_new_weights or not saved.is_file():
        return
    try:
        previous = json.loads(saved.read_text())["verifier"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return  # nothing readable to compare with: the evaluation rewrites the file
    if previous.get("trained_in_domain") or not previous.get("sha256"):
        return
    path = Path(weights) if weights is not None else expected_path(kind)
    digest = sha256(path)
    if digest != previous["sha256"]:
        raise CheckpointError(
            f"sha256 {digest} ({kind}) differs from {previous['sha256']} ({previous.get('name')}, "
            f"{previous.get('weights')}), the weights this run folder was evaluated with ({saved}); {otherwise}",
            path)
