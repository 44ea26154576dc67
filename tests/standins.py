"""Stand-ins for the evaluation tests: methods and evaluators that measure the protocol machinery,
not a GAN. The evaluators have plain-numpy twins (``hand_aus``, ``hand_features``), so a test can
compute every expected figure from the images themselves, independently of the code under test."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from eggan.core.checkpoint import save_checkpoint
from eggan.core.config import RunConfig
from eggan.core.method import Condition, DataInfo, Method
from eggan.core.provenance import dataset_record
from eggan.data.config import DataConfig
from eggan.data.dataset import Batch, Target, load_dataset
from evaluate.au import AUEstimator, AUReading
from evaluate.identity import Verifier


@dataclass
class NoConfig:
    pass


class KeepSource(Method):
    """Returns the source unchanged (identity kept, expression never edited)."""

    name = "keep-source"
    condition: ClassVar[Condition] = "aus"
    Config = NoConfig

    @classmethod
    def preset(cls, name: str) -> RunConfig:
        raise NotImplementedError

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        return {}

    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        return source


class PasteTarget(KeepSource):
    """Returns the target image (expression copied exactly, identity lost)."""

    name = "paste-target"
    condition: ClassVar[Condition] = "image"

    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        return target.image


class Blend(PasteTarget):
    """Returns the mean of source and target: neither face, so no score of it equals a reference's."""

    name = "blend"

    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        return (source + target.image) / 2


def standin(kind: type[Method], size: int) -> Method:
    return kind(NoConfig(), DataInfo(image_size=size, n_identities=4), 1, torch.device("cpu"))


def fake_run(root: Path, dataset: Path, labels: dict[str, int]) -> Path:
    """A benchmark directory as `eggan-bench run` lays it out (config.json + checkpoint.pt), with
    ``labels[label]`` seeds per label; ``load_standin`` loads them by the label's name."""
    fingerprint = load_dataset(dataset, 32).fingerprint()
    for label, seeds in labels.items():
        for k in range(seeds):
            folder = root / "train" / label / f"seed{k}"
            folder.mkdir(parents=True)
            config = {"method": label, "data": asdict(DataConfig(source=str(dataset), image_size=32))}
            (folder / "config.json").write_text(json.dumps(config))
            # The checkpoint records its config and the fingerprint of the data it learned from.
            save_checkpoint(folder / "checkpoint.pt", {"method": label, "image_size": 32, "step": 7, "config": config,
                                                       "dataset": dataset_record(fingerprint, dataset.name)})
    return root


def load_standin(path: Path, device: torch.device) -> Method:
    """The stand-in a fake run's label names: paste..., blend..., else keep-source."""
    label = Path(path).parent.parent.name
    kind = PasteTarget if label.startswith("paste") else Blend if label.startswith("blend") else KeepSource
    return standin(kind, 32)


# --- evaluators with a numpy twin ----------------------------------------------------------------

AU_OFFSETS = np.linspace(0, 0.1, 17)


def failed(key: str) -> bool:
    """The stand-in estimator finds no face in images whose key ends in 3."""
    return key.endswith("3")


class MeanColourAUs(AUEstimator):
    """AUs read off the image's mean colour; fails (ok = False, NaN) on keys ending in 3."""

    name = "mean-colour"

    def estimate(self, images: torch.Tensor, keys: Sequence[str]) -> AUReading:
        base = (images.mean(dim=(2, 3)) + 1) * 2.5  # N x 3 on 0-5
        aus = base.repeat(1, 6)[:, :17] + torch.from_numpy(AU_OFFSETS).float()
        ok = torch.tensor([not failed(key) for key in keys])
        aus[~ok] = float("nan")
        return AUReading(aus, ok)

    def metadata(self) -> dict:
        return {"name": self.name}


def hand_aus(images: np.ndarray) -> np.ndarray:
    """MeanColourAUs in numpy, for images N x 3 x H x W in [-1, 1] (every reading succeeds)."""
    base = (images.astype(np.float64).mean(axis=(2, 3)) + 1) * 2.5
    return np.tile(base, 6)[:, :17] + AU_OFFSETS


class ColourFeatures(torch.nn.Module):
    """Features of a grayscale face: its mean, its standard deviation and a constant."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: N x 1 x S x S grayscale
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), torch.ones(len(x), 1)], dim=1) - 0.5


def colour_verifier(size: int) -> Verifier:
    return Verifier(ColourFeatures(), size, {"name": "colour", "sha256": "stand-in"}, torch.device("cpu"))


def hand_features(images: np.ndarray) -> np.ndarray:
    """ColourFeatures behind the verifier's grayscale read (ITU-R 601 luma of [0, 1] RGB), in numpy."""
    rgb = (images.astype(np.float64) + 1) / 2
    gray = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    flat = gray.reshape(len(gray), -1)
    return np.stack([flat.mean(1), flat.std(1, ddof=1), np.ones(len(flat))], axis=1) - 0.5


def hand_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
