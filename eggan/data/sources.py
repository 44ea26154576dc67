"""Turn a run's ``DataConfig`` into a loaded dataset: SynthFACS rendered on demand, or a folder."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from eggan.data.config import DataConfig
from eggan.data.dataset import INDEX_NAME, FaceDataset, load_dataset
from eggan.errors import DataError, OutputError


def cache_root() -> Path:
    """Where rendered SynthFACS copies live (``$EGGAN_CACHE`` or ``~/.cache/eggan-bench``)."""
    return Path(os.environ.get("EGGAN_CACHE", Path.home() / ".cache" / "eggan-bench"))


def synthfacs_dir(config: DataConfig) -> Path:
    """One folder per (size, identities, variants, seed): renders are cached per size."""
    key = json.dumps({"size": config.image_size, **asdict(config.synth)}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return cache_root() / "synthfacs" / f"size{config.image_size}-{digest}"


def open_dataset(config: DataConfig) -> FaceDataset:
    """The dataset a run trains and is evaluated on (train and test splits together)."""
    if config.source == "synthfacs":
        from eggan.data.synthfacs import render_synthfacs

        root = synthfacs_dir(config)
        if not (root / INDEX_NAME).is_file():
            shutil.rmtree(root, ignore_errors=True)  # a render cut short by an older version: redone
            synth = config.synth
            try:
                render_synthfacs(
                    root,
                    size=config.image_size,
                    identities=synth.identities,
                    test_identities=synth.test_identities,
                    evaluator_identities=synth.evaluator_identities,
                    variants=synth.variants,
                    seed=synth.seed,
                )
            except OutputError:
                if not (root / INDEX_NAME).is_file():
                    raise  # else another process rendered the same (deterministic) copy first
        dataset = load_dataset(root, config.image_size)
        dataset.name = "SynthFACS"
        return dataset
    root = Path(config.source)
    if not root.exists():
        raise DataError("dataset folder does not exist (use 'synthfacs' or a folder with index.csv)", root)
    return load_dataset(root, config.image_size)
