"""The one dataset a run directory's models were trained on, read from their checkpoints.

Each checkpoint's own config says which data its model learned from and at which size; the
``config.json`` beside it must agree (``eggan.core.provenance.check_config_copy``), so a copy edited
by hand cannot point the evaluation at other data. Every model must come from one dataset, and that
dataset, loaded now, must still have the fingerprint the checkpoints recorded: a dataset
re-rendered or edited since training is refused in one line naming both fingerprints, unless the
caller allows it, and then the returned notes say so in the results and the captions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from eggan.core.checkpoint import CHECKPOINT_NAME, load_checkpoint
from eggan.core.config import from_dict
from eggan.core.method import Method
from eggan.core.provenance import check_config_copy, check_data
from eggan.data.config import DataConfig
from eggan.data.dataset import FaceDataset
from eggan.data.sources import open_dataset
from eggan.errors import CheckpointError, ConfigError, DataError

Runs = dict[str, dict[int, Path]]
# How a trained checkpoint becomes a Method (eggan.core.train.load_trained; tests pass stand-ins).
Loader = Callable[[Path, torch.device], Method]


def seed_folders(root: Path, marker: str) -> Runs:
    """label -> seed -> folder, for every ``root/<label>/seed<k>/<marker>``: the layout of trained
    runs (marker checkpoint.pt) and of registered outside outputs (marker source.json)."""
    found: Runs = {}
    for path in sorted(root.glob(f"*/seed*/{marker}")):
        match = re.fullmatch(r"seed(\d+)", path.parent.name)
        if match:
            found.setdefault(path.parent.parent.name, {})[int(match.group(1))] = path.parent
    return found


def find_runs(run_dir: Path) -> Runs:
    """label -> seed -> training folder, for every ``train/<label>/seed<k>/checkpoint.pt``.

    ``run_dir`` may also be what ``eggan-bench train --out`` wrote (``checkpoint.pt`` and
    ``config.json`` directly inside): that folder is then the one run, labelled by its method and
    seed from config.json, so ``train`` then ``evaluate`` works without building a benchmark tree.
    """
    if (run_dir / CHECKPOINT_NAME).is_file():
        return _single_run(run_dir)
    runs = seed_folders(run_dir / "train", CHECKPOINT_NAME)
    if not runs:
        raise DataError("no trained runs: expected checkpoint.pt (a `train --out` folder) or "
                        "train/<label>/seed<k>/checkpoint.pt (a `run --out` folder)", run_dir)
    return runs


def _single_run(folder: Path) -> Runs:
    """{method: {seed: folder}} of one `train --out` folder, read from its config.json."""
    path = folder / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {str(raw["method"]): {int(raw["train"]["seed"]): folder}}
    except FileNotFoundError:
        raise DataError("has checkpoint.pt but no config.json (not written by `eggan-bench train`)", folder) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"unreadable run config ({type(exc).__name__}: {exc})", path) from None


def _dataset_key(config: DataConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(config).items() if k != "hflip"}  # hflip: augmentation, not data


def _trained(folder: Path) -> tuple[DataConfig, dict[str, Any]]:
    """(data config, the checkpoint's dataset record) of one training folder, its config.json checked."""
    path = folder / CHECKPOINT_NAME
    payload = load_checkpoint(path)
    config = payload.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("data"), dict):
        raise CheckpointError("holds no run config (not written by `eggan-bench train`)", path)
    check_config_copy(folder, config)
    return from_dict(DataConfig, config["data"]), {"dataset": payload.get("dataset")}


def run_dataset(runs: Runs, allow_other_data: bool = False
                ) -> tuple[DataConfig, FaceDataset, dict[str, dict[str, Any]]]:
    """The dataset every run of the directory was trained on (loaded; SynthFACS rendered if needed),
    and a note per ``"<label> seed <k>"`` that learned from other data (allowed only with
    ``allow_other_data``; see ``eggan.core.provenance.check_data``)."""
    trained = {(label, k): _trained(folder) for label, seeds in runs.items() for k, folder in seeds.items()}
    (first_label, first_seed), (config, _) = next(iter(trained.items()))
    for (label, k), (other, _) in trained.items():
        if _dataset_key(other) != _dataset_key(config):
            raise ConfigError(f"{label}/seed{k} was trained on other data than {first_label}/seed{first_seed}; "
                              "one evaluation needs one dataset", runs[label][k])
    dataset = open_dataset(config)
    notes = {}
    for (label, k), (_, record) in trained.items():
        note = check_data(record, dataset.fingerprint(), runs[label][k] / CHECKPOINT_NAME, allow_other_data)
        if note is not None:
            notes[f"{label} seed {k}"] = note
    return config, dataset, notes
