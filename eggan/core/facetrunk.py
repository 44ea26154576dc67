"""A face-trained VGG trunk: VGG19's layers up to relu3_1, trained on a run's training split.

Without ImageNet weights (never downloadable here) the CPU presets' VGG trunks are random, so
EGGAN's perceptual term compares random features and HomoInterpGAN's latent is a random
projection. This module trains the same layout (narrow, as ``eggan.core.vgg.narrow_random_trunk``
builds it, from the same seeded start) to tell the training split's people apart: a method learns
from its training images and their labels, never from the evaluators, the renderer or the test
faces. Identity is the objective because a perceptual term should hold the person and leave the
expression free, which features trained to recognise people under every expression do better
than random ones.

Trained once per (training split, settings) and cached like the in-domain evaluators
(``eggan.core.trained_cache``, under ``cache_root()/trunks``); the file's sha256 and the
training accuracy go into the returned ``VGGStatus``, which the method records in its metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eggan.core.trained_cache import load_or_train
from eggan.core.vgg import VGGStatus, imagenet_normalise, narrow_random_trunk
from eggan.core.warmup import fit_classifier
from eggan.data.dataset import FaceDataset
from eggan.data.sources import cache_root
from eggan.io import sha256

FACE_TRUNK_SETTINGS: dict[str, Any] = {"epochs": 4, "batch_size": 64, "lr": 1e-3, "seed": 0}


def face_trunk(
    train: FaceDataset, width: float, device: torch.device, log: Callable[[str], None] = lambda _msg: None,
    settings: dict[str, Any] | None = None,
) -> tuple[nn.Sequential, VGGStatus]:
    """VGG19 up to relu3_1 at ``width``, trained to classify ``train``'s identities from
    ImageNet-normalised [-1, 1] images (a linear head on the flattened relu3_1 map, then dropped)."""
    settings = {**FACE_TRUNK_SETTINGS, **(settings or {}), "width": width, "size": train.image_size}
    identities = len(train.identities)

    def fit() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        torch.manual_seed(settings["seed"])
        trunk, _ = narrow_random_trunk(width)
        side = train.image_size // 4  # two max-pools before relu3_1
        channels = trunk[-2].out_channels
        net = nn.Sequential(trunk, nn.Flatten(), nn.Linear(channels * side * side, identities)).to(device)
        accuracy = fit_classifier(
            "face trunk", lambda images: net(imagenet_normalise(images)), net.parameters(), train,
            train.identity_index, F.cross_entropy, settings["epochs"], settings["lr"], (0.9, 0.999),
            settings["batch_size"], device, log)
        report = {"objective": "identity classification", "train_accuracy": round(accuracy, 4),
                  "images": len(train), "identities": identities}
        return {k: v.cpu() for k, v in trunk.state_dict().items()}, report

    state, report, path = load_or_train("face-trunk", train, settings, fit, cache_dir=cache_root() / "trunks",
                                        log=log)
    trunk, _ = narrow_random_trunk(width)
    trunk.load_state_dict(state, strict=True)
    note = (f"face-trained VGG19 layout up to relu3_1 at width {width:g}: trained to classify the "
            f"{report['identities']} identities of the training split ({report['images']} images, "
            f"{settings['epochs']} epochs, train accuracy {report['train_accuracy']:.3f}), not ImageNet features; "
            f"sha256 {sha256(path)}")
    return trunk, VGGStatus("face", str(path), note)
