"""Small EGGAN models on a small SynthFACS render, shared by the EGGAN test files."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from eggan.core.config import apply_overrides
from eggan.core.method import DataInfo
from eggan.data.dataset import FaceDataset, load_dataset
from eggan.data.synthfacs import render_synthfacs
from eggan.egg.model import EggAN
from eggan.egg.perceptual import Perceptual, build_perceptual

_PHI: dict[str, Perceptual] = {}


def random_phi() -> Perceptual:
    """One fixed-seed random phi for every test model (building VGG19 costs seconds)."""
    if "phi" not in _PHI:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the random-VGG19 warning (tested on its own)
            _PHI["phi"] = build_perceptual(None, allow_random=True)
    return _PHI["phi"]


def smoke_synthfacs(root: Path) -> FaceDataset:
    """12 identities (4 in test) x 8 expressions x 2 variants at 32 px: the smoke preset's data."""
    if not (root / "index.csv").is_file():
        render_synthfacs(root, size=32, identities=12, test_identities=4, variants=2)
    return load_dataset(root, 32)


def smoke_model(train: FaceDataset, *overrides: str, steps: int = 100, seed: int = 0) -> EggAN:
    """The smoke preset's EGGAN (with ``model.x=y`` overrides), set up on ``train``."""
    config = apply_overrides(EggAN.preset("smoke"), list(overrides))
    torch.manual_seed(seed)
    method = EggAN(config.model, DataInfo(32, len(train.identities)), steps, torch.device("cpu"))
    if not method.cfg.no_perceptual:
        method.phi = random_phi()
    method.setup(train)
    return method
