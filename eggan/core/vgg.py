"""VGG19 trunks with ImageNet weights found offline, or a loudly-labelled random stand-in.

EGGAN's perceptual loss and HomoInterpGAN's encoder start from ImageNet VGG19 weights, which
cannot be downloaded on the project's machines. The weights are looked for where torchvision
caches them (``torch.hub.get_dir()/checkpoints/vgg19-dcbb9e9d.pth``), at ``$EGGAN_VGG19_WEIGHTS``,
or at a path the user gives. Without them, only presets that allow it (smoke, quick) build a
fixed-seed random VGG19; the returned ``VGGStatus`` says so and goes into the run's metadata and
every table built from it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import vgg19

from eggan.core.checkpoint import load_file
from eggan.errors import CheckpointError, EgganWarning, MissingComponentError

TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
RANDOM_SEED = 19
# ImageNet statistics, for inputs given in [-1, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class VGGStatus:
    """Where the VGG19 weights came from; recorded with every result that depends on them."""

    weights: str  # "imagenet", "random" or "face" (eggan.core.facetrunk)
    path: str | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_paths(user_path: str | Path | None = None) -> list[Path]:
    paths = [Path(p) for p in (user_path, os.environ.get("EGGAN_VGG19_WEIGHTS")) if p]
    paths.append(Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE)
    return paths


def find_weights(user_path: str | Path | None = None) -> Path | None:
    if user_path is not None and not Path(user_path).is_file():
        raise MissingComponentError("VGG19 weights file not found", user_path)
    return next((p for p in candidate_paths(user_path) if p.is_file()), None)


def _weights_needed() -> MissingComponentError:
    return MissingComponentError(
        f"VGG19 ImageNet weights are needed; put {TORCHVISION_FILE} at {candidate_paths()[-1]} "
        "or pass its path (or set EGGAN_VGG19_WEIGHTS)"
    )


def require_weights(user_path: str | Path | None = None, allow_random: bool = False) -> None:
    """Fail (before any training) when ImageNet weights are needed and cannot be found."""
    if not allow_random and find_weights(user_path) is None:
        raise _weights_needed()


# torchvision's VGG19 ("E") layer plan up to relu3_1: output channels, "M" for max-pooling.
VGG19_TO_RELU3_1 = (64, 64, "M", 128, 128, "M", 256)


def narrow_random_trunk(width: float) -> tuple[nn.Sequential, VGGStatus]:
    """VGG19's layers up to relu3_1 at ``width`` times its channels, randomly initialised as
    torchvision initialises VGG (seed ``RANDOM_SEED``). ImageNet weights exist only at width 1, so
    a narrower trunk is always random: a cheap stand-in whose cost falls with width squared."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(RANDOM_SEED)
    layers: list[nn.Module] = []
    c_in = 3
    for item in VGG19_TO_RELU3_1:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        conv = nn.Conv2d(c_in, max(1, round(item * width)), 3, padding=1)
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(conv.bias)
        layers += [conv, nn.ReLU(inplace=True)]
        c_in = conv.out_channels
    torch.random.set_rng_state(generator_state)
    note = (f"a fixed-seed random VGG19 trunk (seed {RANDOM_SEED}) at {width:g} of VGG19's widths up to relu3_1: "
            "perceptual features are random features, not ImageNet features")
    return nn.Sequential(*layers), VGGStatus("random", None, note)


def vgg19_features(
    user_path: str | Path | None = None, allow_random: bool = False
) -> tuple[nn.Sequential, VGGStatus]:
    """torchvision's VGG19 ``features`` with ImageNet weights, or (if allowed) a seeded random init."""
    # Built first in both cases, so the caller's RNG stream does not depend on whether weights were found.
    model = vgg19(weights=None)
    path = find_weights(user_path)
    if path is not None:
        state = load_file(path)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"not torchvision VGG19 weights ({str(exc).splitlines()[0]})", path) from None
        return model.features, VGGStatus("imagenet", str(path), "torchvision VGG19 ImageNet weights")
    if not allow_random:
        raise _weights_needed()
    where = candidate_paths()[-1]
    note = (
        f"VGG19 ImageNet weights not found (looked at {where}); using a fixed-seed random VGG19 "
        f"(seed {RANDOM_SEED}): perceptual features are not ImageNet features"
    )
    warnings.warn(note, EgganWarning, stacklevel=2)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(RANDOM_SEED)
    model = vgg19(weights=None)
    torch.random.set_rng_state(generator_state)
    return model.features, VGGStatus("random", None, note)


def imagenet_normalise(x: torch.Tensor) -> torch.Tensor:
    """Map images in [-1, 1] to the ImageNet-normalised input VGG19 was trained on."""
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x + 1) / 2 - mean) / std


def imagenet_denormalise(x: torch.Tensor) -> torch.Tensor:
    """Inverse of ``imagenet_normalise``: ImageNet-normalised images back to [-1, 1]."""
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x * std + mean) * 2 - 1
