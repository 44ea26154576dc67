"""Networks trained once on a dataset and cached: the in-domain evaluators (``evaluate``) and the
face-trained VGG trunk (``eggan.core.facetrunk``).

Training costs minutes, so the trained weights and a JSON report (held-out accuracy, training
time) are cached under ``<cache_dir>/<kind>-<dataset fingerprint>-<settings hash>.pt``, written
atomically and read back with ``weights_only=True``: the same dataset and settings never train
twice. A file that is truncated, corrupt or of another kind is trained again, with a warning;
training is seeded, so that gives the same network.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from eggan.core.checkpoint import load_file
from eggan.data.dataset import FaceDataset
from eggan.errors import CheckpointError, EgganWarning
from eggan.io import atomic_write

# The tag of every cached file (its value predates the trunk: caches written by earlier versions stay valid).
FORMAT = "eggan-bench-evaluator/1"


def cache_path(kind: str, dataset: FaceDataset, settings: dict[str, Any], cache_dir: Path) -> Path:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return Path(cache_dir) / f"{kind}-{dataset.fingerprint()}-{digest}.pt"


def load_or_train(
    kind: str,
    dataset: FaceDataset,
    settings: dict[str, Any],
    train: Callable[[], tuple[dict[str, torch.Tensor], dict[str, Any]]],
    cache_dir: Path,
    log: Callable[[str], None] = lambda _msg: None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any], Path]:
    """The cached (state_dict, report) for this dataset and settings, training them if absent.

    ``train`` returns the network's state dict and a JSON-ready report (held-out accuracy);
    the training time is added to the report. ``log`` hears when training starts: a command that
    is otherwise instant then says why it takes minutes, once.
    """
    path = cache_path(kind, dataset, settings, cache_dir)
    if path.is_file():
        cached = _read_cached(path, kind)
        if cached is not None:
            return (*cached, path)
    log(f"training the in-domain {kind} on {dataset.name}'s training identities: once per dataset, "
        f"minutes on a CPU, then cached ({path})")
    start, cpu_start = time.perf_counter(), time.process_time()
    with torch.random.fork_rng():  # training seeds torch; the caller's RNG stream is left alone
        state, report = train()
    # CPU time beside wall time: on a shared machine the wall time says more about the neighbours.
    report = {**report, "train_seconds": round(time.perf_counter() - start, 1),
              "train_cpu_seconds": round(time.process_time() - cpu_start, 1), "threads": torch.get_num_threads()}
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "kind": kind, "settings": json.dumps(settings), "state_dict": state,
                "report": json.dumps(report), "dataset": dataset.fingerprint()}, buffer)
    atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))
    return state, report, path


def _read_cached(path: Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """A cached network's (state_dict, report); None, with a warning, when the file is truncated,
    corrupt or not one of ``kind``: training again gives the same network (it is seeded)."""
    try:
        payload = load_file(path)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("kind") != kind:
            raise CheckpointError(f"not a cached {kind}")
        return payload["state_dict"], json.loads(payload["report"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        warnings.warn(f"{path}: the cached {kind} is truncated, corrupt or not a cached {kind}; training it again",
                      EgganWarning, stacklevel=3)
        return None
