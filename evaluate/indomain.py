"""Evaluators trained on a dataset's own faces, cached by dataset fingerprint.

Where no released evaluator fits the data (SynthFACS has no OpenFace readings and its faces are
not LightCNN's), the suite trains one and reports its accuracy on the held-out (test) identities
next to every result it produces. It learns from the dataset's ``evaluator`` split: people whose
faces are never scored, so the Real row (the estimator on real targets) and every method's row are
read by an evaluator that has not seen the person. A dataset without that split falls back to the
training identities, which are the targets' people: the fallback is printed, recorded in the
evaluator's metadata and in every caption, because it makes the Real row optimistic. Training
costs minutes, so the trained weights and that held-out report are cached under
``cache_root()/evaluators/`` (``eggan.core.trained_cache``): the same dataset and settings never
train twice.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from eggan.core.imageops import blur
from eggan.core.runmeta import select_device
from eggan.data.dataset import FaceDataset
from eggan.data.sources import cache_root


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
