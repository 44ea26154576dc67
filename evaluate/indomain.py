"""Evaluators trained on a dataset's own faces, cached by dataset fingerprint.

Where no released evaluator fits the data (SynthFACS has no OpenFace readings and its faces are
not LightCNN's), the suite trains one and reports its accuracy on the held-out (test) identities
next to every result it produces. It learns from the dataset's ``evaluator`` split: people whose
faces are never scored, so the Real row (the estimator on real targets) and every method's row are
read by an evaluator that has not seen the person. A dataset without that split falls back to the
training identities, which are the targets' people: the fallback is printed, recorded in the
evaluator's metadata and in every caption, because it makes the Real row optimistic. Training costs minutes, so the
trained weights and that held-out report are cached under
``cache_root()/evaluators/<kind>-<dataset fingerprint>-<settings hash>.pt`` (written atomically,
read back with ``weights_only=True``): the same dataset and settings never train twice.
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
import torch.nn.functional as F

from eggan.core.checkpoint import load_file
from eggan.core.imageops import blur
from eggan.core.runmeta import select_device
from eggan.data.dataset import FaceDataset
from eggan.data.sources import cache_root
from eggan.errors import CheckpointError, EgganWarning
from eggan.io import atomic_write

FORMAT = "eggan-bench-evaluator/1"


def training_split(dataset: FaceDataset) -> tuple[FaceDataset, dict[str, Any]]:
    """The faces an in-domain evaluator learns from, and what that means for the tables."""
    if dataset.has_split("evaluator"):
        faces = dataset.split("evaluator")
        return faces, {"split": "evaluator", "identities": len(faces.identities), "images": len(faces),
                       "disjoint_from_scored_faces": True}
    faces = dataset.split("train")
    note = ("the dataset has no evaluator split, so the in-domain evaluators learned from the training "
            "identities, whose images are the protocol's targets: the Real row is optimistic")
    warnings.warn(note, stacklevel=2)
    return faces, {"split": "train", "identities": len(faces.identities), "images": len(faces),
                   "disjoint_from_scored_faces": False, "warning": note}


def evaluators_dir() -> Path:
    return cache_root() / "evaluators"


def cache_path(kind: str, dataset: FaceDataset, settings: dict[str, Any], cache_dir: Path | None = None) -> Path:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return Path(cache_dir or evaluators_dir()) / f"{kind}-{dataset.fingerprint()}-{digest}.pt"


def load_or_train(
    kind: str,
    dataset: FaceDataset,
    settings: dict[str, Any],
    train: Callable[[], tuple[dict[str, torch.Tensor], dict[str, Any]]],
    cache_dir: Path | None = None,
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
    """A cached evaluator's (state_dict, report); None, with a warning, when the file is truncated,
    corrupt or not one: training again gives the same evaluator (it is seeded), so it is rebuilt."""
    try:
        payload = load_file(path)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("kind") != kind:
            raise CheckpointError("not an evaluator")
        return payload["state_dict"], json.loads(payload["report"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        warnings.warn(f"{path}: the cached {kind} is truncated, corrupt or not an evaluator; training it again",
                      EgganWarning, stacklevel=3)
        return None


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Antialiased bilinear resize to size x size (a no-op at that size already)."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def jitter(images: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Random translation by up to ``pixels`` (replicate padding): SynthFACS's own nuisance."""
    if pixels == 0:
        return images
    h, w = images.shape[-2:]
    padded = F.pad(images, (pixels,) * 4, mode="replicate")
    dx, dy = torch.randint(0, 2 * pixels + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy : dy + h, dx : dx + w]


# Held-out accuracy is also reported on test faces blurred by these sigmas (pixels): a reader of
# generated images must not mistake softness for an expression or another person.
ROBUSTNESS_SIGMAS: tuple[float, ...] = (1.0, 2.0)


def degrade(images: torch.Tensor, max_sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Blur half the images, each by a random sigma of up to ``max_sigma`` pixels.

    Generated faces are softer than renders. An evaluator that has only seen sharp renders reads
    a blurred real face as a different expression (a sigma of 1.2 px raised the regressor's
    held-out AU MSE from 0.11 to 2.0). It would then score sharpness, not expression or identity.
    """
    if max_sigma == 0:
        return images
    n = len(images)
    sigma = torch.rand(n, generator=generator) * max_sigma * (torch.rand(n, generator=generator) < 0.5)
    return blur(images, sigma)


def batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch's shuffled index batches."""
    return list(torch.randperm(n, generator=generator).split(batch_size))


def pick_device(device: torch.device | str | None) -> torch.device:
    return select_device("auto") if device is None else torch.device(device)
