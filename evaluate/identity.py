"""Face verification for the identity metric: released LightCNN weights, or an in-domain LightCNN-9.

``load_lightcnn`` reads the released ``.pth.tar`` files as they are (nested ``state_dict``,
``module.`` prefixes from DataParallel, ``fc2`` present or not, legacy or zip serialisation)
through ``eggan.core.checkpoint.load_file`` (``weights_only=True``) and loads the backbone strictly:
a LightCNN loaded with ``strict=False`` silently yields garbage features (LightCNN issue #43),
so any missing or unexpected key is an error that names them.

A ``Verifier`` turns images in [-1, 1] RGB of any size into 256-d features the way LightCNN was
fed (8-bit-style grayscale with ITU-R 601 weights, values in [0, 1]) and scores pairs by cosine
similarity. A released LightCNN on a dataset with landmarks (``landmarks.csv``, from OpenFace at
ingest) sees each face aligned by its 5 points as the authors' README asks (``evaluate.alignment``);
a generated image is aligned with its SOURCE's points, because every method here edits the source
in place (same pose, same pixel grid: an expression edit, not a new photograph). Without landmarks
(SynthFACS, folders ingested without them, the in-domain verifier, which learned on the crops) the
face is the dataset's own crop resized to the input side, and ``metadata()["alignment"]`` says which.
Its threshold is fixed from real pairs of held-out identities (``evaluate.pairs.calibrate``) before
any generated image is scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eggan.core.checkpoint import load_file
from eggan.core.method import adam
from eggan.core.trained_cache import load_or_train
from eggan.data.dataset import FaceDataset
from eggan.data.landmarks import dataset_points
from eggan.errors import CheckpointError, ConfigError
from eggan.io import sha256
from evaluate.alignment import DESCRIPTION, align
from evaluate.indomain import batches, degrade, evaluators_dir, jitter, pick_device, resize, training_split
from evaluate.lightcnn import INPUT_SIZE, VARIANTS, build_lightcnn
from evaluate.weights import expected_path, verify_weights

LUMA = (0.299, 0.587, 0.114)  # what PIL "L" and OpenCV's grayscale read use


class FeatureExtractor(nn.Module):
    """A LightCNN backbone that returns only the 256-d feature (N x 1 x S x S in [0, 1])."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)[1]


def _state_dict(payload: Any, path: str) -> dict[str, torch.Tensor]:
    state = payload.get("state_dict", payload) if isinstance(payload, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("not a LightCNN checkpoint: no state_dict of tensors inside", path)
    return {k.removeprefix("module."): v for k, v in state.items()}


def _backbone_keys(variant: str) -> set[str]:
    return set(build_lightcnn(variant, num_classes=None, width=1 / 48).state_dict())


def load_lightcnn(path: str, variant: str) -> FeatureExtractor:
    """The released LightCNN ``variant`` from ``path``, eval mode, mapping N x 1 x 128 x 128 -> N x 256."""
    state = _state_dict(load_file(path), str(path))
    state = {k: v for k, v in state.items() if not k.startswith("fc2.")}  # the classifier is not needed
    model = build_lightcnn(variant, num_classes=None)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]  # in the network's order: the first ones tell most
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        guess = next((v for v in VARIANTS if v != variant and _backbone_keys(v) == set(state)), None)
        hint = f"; it looks like a {guess} checkpoint" if guess else ""
        raise CheckpointError(
            f"not a {variant} checkpoint: missing keys {_few(missing)}, unexpected keys {_few(unexpected)}{hint}",
            path,
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        shapes = [line.strip() for line in str(exc).splitlines() if "size mismatch" in line]
        raise CheckpointError(f"not a {variant} checkpoint: {shapes[0] if shapes else exc}", path) from None
    return FeatureExtractor(model).eval()


def _few(keys: list[str], n: int = 3) -> str:
    if not keys:
        return "none"
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def luma(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] RGB (N x 3 x H x W) -> [0, 1] grayscale N x 1 x H x W."""
    rgb = (images.float() + 1.0) / 2.0
    weights = torch.tensor(LUMA, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True)


def to_gray(images: torch.Tensor, size: int) -> torch.Tensor:
    """[-1, 1] RGB (N x 3 x H x W) -> [0, 1] grayscale N x 1 x size x size."""
    return resize(luma(images), size).clamp(0.0, 1.0)


class Verifier:
    """Features and cosine scores of one LightCNN, plus the threshold fixed on real pairs."""

    def __init__(self, net: nn.Module, input_size: int, info: dict[str, Any], device: torch.device,
                 points: torch.Tensor | None = None) -> None:
        self.net = net.to(device).eval()
        self.input_size = input_size
        self.info = info
        self.device = device
        self.points = points  # 5 landmarks of every dataset row (N x 5 x 2), when faces are aligned
        self.threshold: float | None = None
        self.calibration: dict[str, Any] | None = None
        self.real_scores: tuple[np.ndarray, np.ndarray] | None = None  # genuine, impostor cosines

    @torch.no_grad()
    def features(self, images: torch.Tensor, rows: torch.Tensor | np.ndarray | None = None,
                 batch_size: int = 64) -> torch.Tensor:
        """Features of ``images``; ``rows`` are the dataset rows whose landmarks place them (a
        generated image's source row), needed when this verifier aligns faces."""
        if self.points is not None and rows is None:
            raise ValueError("this verifier aligns faces by their landmarks: give the dataset rows of the images")
        index = None if rows is None else torch.as_tensor(rows, dtype=torch.long)
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size].to(self.device)
            if self.points is None:
                x = to_gray(chunk, self.input_size)
            else:
                points = self.points[index[start:start + batch_size]].to(self.device)
                x = align(luma(chunk), points, self.input_size).clamp(0.0, 1.0)
            out.append(self.net(x).float().cpu())
        return torch.cat(out) if out else torch.empty(0, 256)

    def metadata(self) -> dict[str, Any]:
        return {**self.info, "input_size": self.input_size, "threshold": self.threshold,
                "calibration": self.calibration}


def check_verifier_weights(kind: str, weights: str | Path | None, accept_unverified: bool = False) -> None:
    """Before anything is trained or written: a released verifier's weights file is there, is the
    released file (or accepted as unverified) and loads as that LightCNN; the in-domain verifier
    trains its own weights and takes no file."""
    if kind == "indomain":
        if weights is not None:
            raise ConfigError(f"--weights {weights}: the indomain verifier trains its own weights; give a released "
                              "verifier with --verifier")
        return
    path = Path(weights) if weights is not None else expected_path(kind)
    verify_weights(path, kind, accept_unverified)
    load_lightcnn(str(path), kind)


def released_verifier(variant: str, path: str, device: torch.device | str | None = None,
                      accept_unverified: bool = False, dataset: FaceDataset | None = None) -> Verifier:
    """A released LightCNN, its file checked first (``evaluate.weights.verify_weights``): the
    metadata says whether it is the released file (``weights_verified``), which every caption states.
    Faces of ``dataset`` are aligned by its landmarks where it has them for every image."""
    record = verify_weights(path, variant, accept_unverified)
    net = load_lightcnn(path, variant)
    points, source = (dataset_points(dataset.root, list(dataset.table["path"]), dataset.image_size)
                      if dataset is not None else (None, "no dataset given"))
    alignment = (f"{DESCRIPTION}, landmarks from the dataset's {source}; a generated image uses its source's "
                 "landmarks (an edit of the source in place: same pose, same pixel grid)") if points is not None \
        else f"none: the dataset's own crop, not aligned, grayscale, resized to 128 ({source})"
    info = {"name": variant.replace("lightcnn", "LightCNN"), "weights": str(path), "sha256": record["sha256"],
            "weights_verified": record["verified"], "checked_against": record["checked_against"],
            "aligned": points is not None, "alignment": alignment, "trained_in_domain": False}
    return Verifier(net, INPUT_SIZE, info, pick_device(device), points)


# --- the in-domain verifier ---------------------------------------------------------------------

INDOMAIN_SETTINGS: dict[str, Any] = {"variant": "lightcnn-9", "width": 0.25, "epochs": 12,
                                     "batch_size": 64, "lr": 2e-3, "jitter": 2, "blur": 2.0, "seed": 0}


def indomain_verifier(
    dataset: FaceDataset, device: torch.device | str | None = None, settings: dict[str, Any] | None = None
) -> Verifier:
    """LightCNN-9 (narrowed by ``width``) trained to classify the evaluator split's identities; cached.

    The input side is the dataset's image size (LightCNN's 128 only costs time on 64 px data);
    both choices are in the verifier's name. Its held-out genuine/impostor accuracy is computed
    by the caller's calibration on real pairs of the test identities.
    """
    settings = {**INDOMAIN_SETTINGS, **(settings or {})}
    device = pick_device(device)
    size = max(16, dataset.image_size)
    train, trained_on = training_split(dataset)

    def fit() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        torch.manual_seed(settings["seed"])  # the initialisation too is a function of the seed
        generator = torch.Generator().manual_seed(settings["seed"])
        net = build_lightcnn(settings["variant"], len(train.identities), settings["width"], size).to(device)
        gray = to_gray(train.images.float().div(127.5).sub(1.0), size)
        labels = train.identity_index
        optimizer = adam(net.parameters(), settings["lr"])
        steps = settings["epochs"] * -(-len(train) // settings["batch_size"])
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings["lr"], total_steps=steps)
        net.train()
        correct = 0
        for epoch in range(settings["epochs"]):
            correct = 0
            for idx in batches(len(train), settings["batch_size"], generator):
                x = degrade(jitter(gray[idx], settings["jitter"], generator), settings["blur"], generator)
                x = x.to(device)
                logits, _ = net(x)
                loss = F.cross_entropy(logits, labels[idx].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                if epoch == settings["epochs"] - 1:
                    correct += int((logits.argmax(1).cpu() == labels[idx]).sum())
        state = {k: v.cpu() for k, v in net.state_dict().items() if not k.startswith("fc2.")}
        return state, {"identities": len(train.identities), "final_epoch_train_accuracy": correct / len(train)}

    state, report, path = load_or_train("verifier", dataset, {**settings, "size": size}, fit, evaluators_dir())
    net = build_lightcnn(settings["variant"], None, settings["width"], size)
    net.load_state_dict(state, strict=True)
    name = f"LightCNN-9 (width {settings['width']}, {size}x{size} input, trained in-domain)"
    info = {"name": name, "weights": str(path), "sha256": sha256(path), "trained_in_domain": True,
            "training": report, "trained_on": trained_on,
            "settings": settings, "alignment": "none (the dataset's own crop)"}
    return Verifier(FeatureExtractor(net), size, info, device)
