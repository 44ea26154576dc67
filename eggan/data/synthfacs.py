"""SynthFACS: the suite's embedded dataset, rendered procedurally with exactly known labels.

Every identity shows each of the eight RaFD expressions ``variants`` times. An expression is an
EMFACS-style AU prototype whose intensities are scaled by a random factor per image (so each
category spans weak to strong versions, the fine-grained variation continuous-AU methods are
judged on) plus small noise on the other AUs; contempt is drawn on the identity's dominant side
only. Each image also gets a small random shift, scale and brightness.

Every random draw comes from a generator seeded with (seed, identity, expression, variant), so a
dataset is a pure function of its parameters: the same seed and size give byte-identical PNGs,
and adding identities or variants leaves the existing images unchanged.

Splits: ``identities`` people are split into train and test; ``evaluator_identities`` more people
(numbered after them, so the train/test split does not move) form the ``evaluator`` split, the
only faces the in-domain AU regressor and verifier learn from. The protocol's targets (train) and
sources (test) then come from people no evaluator has seen, which keeps the Real row honest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from eggan.data.aus import AU_COLUMNS, AU_IDS, AU_MAX, EXPRESSIONS, N_AUS
from eggan.data.config import IMAGE_SIZES
from eggan.data.dataset import read_index, split_identities, write_index
from eggan.data.face import Nuisance, render_faces
from eggan.data.identity import Identity, sample_identities, sample_identity
from eggan.data.staging import replacing_dataset
from eggan.errors import ConfigError, DataError
from eggan.io import atomic_write_json, output_errors

# Prototype intensities (0-5) of the AUs EMFACS associates with each expression.
PROTOTYPES: dict[str, dict[int, float]] = {
    "angry": {4: 4.5, 5: 3.0, 7: 3.5, 17: 3.0, 23: 4.0},
    "contemptuous": {12: 3.5, 14: 4.0},
    "disgusted": {9: 4.5, 10: 4.0, 15: 3.0, 17: 3.0},
    "fearful": {1: 4.0, 2: 3.5, 4: 3.0, 5: 4.0, 7: 2.5, 20: 4.0, 25: 3.5, 26: 2.5},
    "happy": {6: 3.5, 12: 4.5, 25: 3.0},
    "neutral": {},
    "sad": {1: 4.0, 4: 3.0, 15: 4.0, 17: 3.0},
    "surprised": {1: 4.5, 2: 4.5, 5: 4.0, 25: 4.0, 26: 4.0},
}
UNILATERAL = frozenset({"contemptuous"})  # drawn on the identity's dominant side only
SCALE_RANGE = (0.45, 1.1)  # per-image factor on the prototype (weak to strong expressions)
JITTER = 0.15  # per-AU relative jitter around the scaled prototype
NOISE_MAX = 0.8  # other AUs: half of them get a small intensity up to this
BLINK_RATE = 0.15  # spontaneous blinks, independent of the expression (as in filmed faces)
SHIFT_PX, SCALE_JITTER, BRIGHTNESS_JITTER = 0.5, 0.03, 0.05
META_NAME = "synthfacs.json"


@dataclass
class Sample:
    """What one image shows: its AU labels, the AUs per image half it is drawn with, its nuisance."""

    aus: np.ndarray  # 17, the label (dominant side for unilateral actions)
    sided: np.ndarray  # 2 x 17, left and right half of the image
    shift: tuple[float, float]
    scale: float
    brightness: float


def sample_expression(seed: int, identity: int, expression: str, variant: int, side: float) -> Sample:
    """Draw the AUs and nuisance of image ``variant`` of ``expression`` on identity ``identity``."""
    rng = np.random.default_rng([seed, 1, identity, EXPRESSIONS.index(expression), variant])
    prototype = PROTOTYPES[expression]
    factor = rng.uniform(*SCALE_RANGE)
    jitter = rng.uniform(1.0 - JITTER, 1.0 + JITTER, N_AUS)
    noise = rng.uniform(0.0, NOISE_MAX, N_AUS) * (rng.uniform(size=N_AUS) < 0.5)
    blink = rng.uniform(1.5, AU_MAX) if rng.uniform() < BLINK_RATE else 0.0
    aus = noise
    for au, value in prototype.items():
        aus[AU_IDS.index(au)] = value * factor * jitter[AU_IDS.index(au)]
    blink_index = AU_IDS.index(45)
    aus[blink_index] = max(aus[blink_index], blink)
    aus = np.round(np.clip(aus, 0.0, AU_MAX), 4)  # labels are written with 4 decimals
    sided = sided_aus(aus, expression, side)
    shift = rng.uniform(-SHIFT_PX, SHIFT_PX, 2)
    scale = 1.0 + rng.uniform(-SCALE_JITTER, SCALE_JITTER)
    brightness = 1.0 + rng.uniform(-BRIGHTNESS_JITTER, BRIGHTNESS_JITTER)
    return Sample(aus, sided, (float(shift[0]), float(shift[1])), float(scale), float(brightness))


def sided_aus(aus: np.ndarray, expression: str, side: float) -> np.ndarray:
    """The AUs per image half (2 x 17, left half first) that a person with dominant ``side`` shows
    for ``expression`` with labels ``aus``: a unilateral expression's prototype AUs are drawn on the
    dominant side only, every other AU on both."""
    sided = np.stack([aus, aus]).astype(np.float64)
    if expression in UNILATERAL:
        other = 0 if side > 0 else 1  # row 0 is the image's left half
        for au in PROTOTYPES[expression]:
            sided[other, AU_IDS.index(au)] = 0.0
    return sided


def render_samples(identity: Identity, samples: list[Sample], size: int) -> torch.Tensor:
    """Render ``samples`` (one per row of ``identity``) with their nuisances: N x 3 x S x S uint8."""
    nuisance = Nuisance(
        shift_x=torch.tensor([s.shift[0] for s in samples], dtype=torch.float32),
        shift_y=torch.tensor([s.shift[1] for s in samples], dtype=torch.float32),
        scale=torch.tensor([s.scale for s in samples], dtype=torch.float32),
        brightness=torch.tensor([s.brightness for s in samples], dtype=torch.float32),
    )
    sided = torch.from_numpy(np.stack([s.sided for s in samples]).astype(np.float32))
    return render_faces(identity, sided, size, nuisance)


def identity_name(index: int) -> str:
    return f"id{index:03d}"


def image_path(identity: int, expression: str, variant: int) -> str:
    """Where image ``variant`` of ``expression`` on identity ``identity`` lives in the folder."""
    return f"images/{identity_name(identity)}/{expression}_{variant}.png"


def parse_image_path(path: str) -> tuple[int, str, int]:
    """(identity, expression, variant) of a SynthFACS image path: what its render was drawn from."""
    match = re.fullmatch(r"images/id(\d+)/([a-z]+)_(\d+)\.png", path)
    if match is None or match.group(2) not in EXPRESSIONS:
        raise DataError(f"{path!r} is not a SynthFACS image path (images/idNNN/<expression>_<k>.png)")
    return int(match.group(1)), match.group(2), int(match.group(3))


def _check(size: int, identities: int, test_identities: int, variants: int, evaluator_identities: int) -> None:
    if size not in IMAGE_SIZES:
        raise ConfigError(f"SynthFACS size {size} is not one of {IMAGE_SIZES}")
    if not 1 <= test_identities < identities:
        raise ConfigError(
            f"SynthFACS needs 1 <= test identities < identities (got {test_identities} of {identities})"
        )
    if variants < 1:
        raise ConfigError(f"SynthFACS variants must be >= 1 (got {variants})")
    if evaluator_identities < 0:
        raise ConfigError(f"SynthFACS evaluator identities must be >= 0 (got {evaluator_identities})")


def render_synthfacs(
    out_dir: str | Path,
    size: int = 64,
    identities: int = 80,
    test_identities: int = 16,
    variants: int = 6,
    seed: int = 0,
    evaluator_identities: int = 0,
    force: bool = False,
) -> Path:
    """Render the dataset into ``out_dir``: ``images/<identity>/<expression>_<k>.png`` and index.csv.

    The folder is written whole or not at all (``replacing_dataset``): an interrupted render
    leaves nothing, and an existing dataset is replaced only with ``force``.
    """
    _check(size, identities, test_identities, variants, evaluator_identities)
    out_dir = Path(out_dir)
    total = identities + evaluator_identities
    names = [identity_name(i) for i in range(total)]
    split = split_identities(names[:identities], test_identities / identities, seed)
    split.update({name: "evaluator" for name in names[identities:]})
    people = sample_identities(seed, total)
    jobs = [(i, e, k) for i in range(total) for e in EXPRESSIONS for k in range(variants)]
    chunk = max(16, 2**20 // size**2)  # about 4 MB per full-size float plane
    rows = []
    with replacing_dataset(out_dir, force) as staging:
        for start in range(0, len(jobs), chunk):
            batch = jobs[start : start + chunk]
            who = [i for i, _, _ in batch]
            samples = [sample_expression(seed, i, e, k, float(people.side[i])) for i, e, k in batch]
            images = render_samples(people.select(who), samples, size).permute(0, 2, 3, 1).numpy()
            for (i, expression, k), sample, image in zip(batch, samples, images, strict=True):
                path = image_path(i, expression, k)
                with output_errors(out_dir):
                    (staging / path).parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(image).save(staging / path, format="PNG")
                rows.append([path, names[i], expression, split[names[i]], *sample.aus])
        meta = {"generator": "synthfacs", "size": size, "identities": identities,
                "test_identities": test_identities, "evaluator_identities": evaluator_identities,
                "variants": variants, "seed": seed}
        atomic_write_json(staging / META_NAME, meta)
        write_index(pd.DataFrame(rows, columns=["path", "identity", "expression", "split", *AU_COLUMNS]), staging)
    return out_dir


def default_counts(
    identities: int = 80, test_identities: int = 16, variants: int = 6, evaluator_identities: int = 0
) -> dict[str, int]:
    """Sizes of a render without rendering it: what the paper protocol's minimums are checked on."""
    per_identity = len(EXPRESSIONS) * variants
    train = identities - test_identities
    return {
        "images": (identities + evaluator_identities) * per_identity,
        "train_images": train * per_identity,
        "test_images": test_identities * per_identity,
        "evaluator_images": evaluator_identities * per_identity,
        "train_per_expression": train * variants,
    }


def dataset_identity(dataset_dir: str | Path, name: str | None = None) -> tuple[Identity, int]:
    """The identity ``name`` of a rendered SynthFACS folder (default: its first test identity),
    and the folder's image size: lets figures re-render that person with any AU vector."""
    root = Path(dataset_dir)
    meta_path = root / META_NAME
    try:
        meta = json.loads(meta_path.read_text())
        seed, size = int(meta["seed"]), int(meta["size"])
        count = int(meta["identities"]) + int(meta.get("evaluator_identities", 0))
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(f"not a SynthFACS folder (no readable {META_NAME})", root) from None
    if name is None:
        table = read_index(root)
        name = sorted(table.loc[table["split"] == "test", "identity"])[0]
    index = int(name[2:]) if name.startswith("id") and name[2:].isdigit() else -1
    if not 0 <= index < count:
        raise DataError(f"no SynthFACS identity {name!r} (id000 .. {identity_name(count - 1)})", root)
    return sample_identity(seed, index), size
