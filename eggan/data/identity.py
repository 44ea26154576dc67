"""SynthFACS identities: the per-person factors of a procedural face, drawn from a seeded stream.

An identity fixes everything the 17 AUs do not move: face outline, skin, hair style and colour,
eye spacing/size/iris colour, brows, nose, mouth and lips, an optional beard or glasses, the
background and clothes, and a dominant side for unilateral actions (contempt). The ranges are
wide and mostly independent so that a face verifier can tell people apart from appearance alone,
while every face keeps the same layout (eyes, nose, mouth in plausible places).

The hair parting is on the dominant side, so the side a contemptuous smirk appears on is visible
in any image of the person (a generator can learn it from the source face).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

HAIR_COLOURS = np.array(
    [
        [0.07, 0.05, 0.05],  # black
        [0.26, 0.16, 0.09],  # dark brown
        [0.50, 0.33, 0.18],  # light brown
        [0.85, 0.70, 0.42],  # blond
        [0.62, 0.26, 0.10],  # red
        [0.68, 0.67, 0.66],  # grey
    ]
)
IRIS_COLOURS = np.array(
    [
        [0.33, 0.20, 0.10],  # brown
        [0.14, 0.09, 0.06],  # dark brown
        [0.22, 0.45, 0.72],  # blue
        [0.28, 0.52, 0.30],  # green
        [0.48, 0.53, 0.58],  # grey
    ]
)
LIGHT_SKIN = np.array([0.98, 0.86, 0.76])
DARK_SKIN = np.array([0.38, 0.25, 0.17])
HAIR_STYLES = ("short", "long", "buzz", "curly")
BEARD_STYLES = ("none", "stubble", "full", "moustache", "goatee")


@dataclass
class Identity:
    """A batch of identities: every field is a float tensor with the batch as first dimension.

    Lengths are in face units (the image spans [-1, 1] on both axes, y pointing down); colours
    are RGB in [0, 1] (N x 3); styles are category indices stored as floats.
    """

    face_w: torch.Tensor
    face_top: torch.Tensor
    face_bot: torch.Tensor
    jaw: torch.Tensor  # 0 = oval, larger = narrower, more pointed chin
    eye_y: torch.Tensor
    eye_x: torch.Tensor
    eye_w: torch.Tensor
    lid_up: torch.Tensor
    lid_low: torch.Tensor
    iris_r: torch.Tensor
    gaze: torch.Tensor
    brow_y: torch.Tensor
    brow_in: torch.Tensor
    brow_out: torch.Tensor
    brow_th: torch.Tensor
    brow_arch: torch.Tensor
    nose_y: torch.Tensor
    nose_w: torch.Tensor
    mouth_y: torch.Tensor
    mouth_w: torch.Tensor
    lip_up: torch.Tensor
    lip_low: torch.Tensor
    hairline: torch.Tensor
    hair_curve: torch.Tensor
    hair_part: torch.Tensor
    hair_w: torch.Tensor
    hair_top: torch.Tensor
    hair_bottom: torch.Tensor
    hair_round: torch.Tensor
    hair_alpha: torch.Tensor
    ear: torch.Tensor
    neck_w: torch.Tensor
    beard: torch.Tensor
    glasses: torch.Tensor
    side: torch.Tensor  # -1 = dominant side is the image's left, +1 = right
    skin: torch.Tensor
    hair: torch.Tensor
    brow: torch.Tensor
    iris: torch.Tensor
    lip: torch.Tensor
    background: torch.Tensor
    background_low: torch.Tensor
    shirt: torch.Tensor
    frame: torch.Tensor

    def __len__(self) -> int:
        return self.face_w.shape[0]

    def select(self, index: torch.Tensor | list[int]) -> Identity:
        """Rows ``index`` (repeats allowed): one identity row per image to render."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return Identity(**{f.name: getattr(self, f.name)[idx] for f in dataclasses.fields(self)})

    @classmethod
    def cat(cls, identities: list[Identity]) -> Identity:
        return cls(**{f.name: torch.cat([getattr(i, f.name) for i in identities])
                      for f in dataclasses.fields(cls)})


def _hsv(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> np.ndarray:
    """A random colour of random hue with saturation and value in the given ranges."""
    import colorsys

    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*sat), rng.uniform(*val)))


def sample_identity(seed: int, index: int) -> Identity:
    """Identity ``index`` of the dataset with ``seed`` (its own stream: adding people changes no one)."""
    rng = np.random.default_rng([seed, 0, index])
    u = rng.uniform
    p: dict[str, object] = {}
    p["face_w"] = u(0.50, 0.62)
    p["face_top"] = u(0.66, 0.78)
    p["face_bot"] = u(0.56, 0.68)
    p["jaw"] = u(0.0, 0.45)
    p["eye_y"] = u(-0.14, -0.06)
    p["eye_x"] = u(0.20, 0.27)
    p["eye_w"] = u(0.095, 0.125)
    p["lid_up"] = u(0.045, 0.062)
    p["lid_low"] = u(0.030, 0.042)
    p["iris_r"] = u(0.040, 0.050)
    p["gaze"] = u(-0.012, 0.012)
    p["brow_y"] = p["eye_y"] - u(0.11, 0.15)
    p["brow_in"] = u(0.055, 0.095)
    p["brow_out"] = p["eye_x"] + p["eye_w"] + u(-0.01, 0.05)
    p["brow_th"] = u(0.022, 0.048)
    p["brow_arch"] = u(0.0, 0.045)
    p["nose_y"] = p["eye_y"] + u(0.19, 0.26)
    p["nose_w"] = u(0.055, 0.085)
    p["mouth_y"] = p["nose_y"] + u(0.13, 0.17)
    p["mouth_w"] = u(0.12, 0.17)
    p["lip_up"] = u(0.022, 0.036)
    p["lip_low"] = u(0.030, 0.050)
    style = rng.choice(len(HAIR_STYLES), p=[0.45, 0.33, 0.10, 0.12])
    p["hairline"] = p["brow_y"] - u(0.2, 0.34)
    p["hair_curve"] = u(-0.5, 1.2)
    p["hair_part"] = u(0.05, 0.3)
    p["hair_w"] = p["face_w"] + u(0.03, 0.10) + (0.18 if style == 3 else 0.0)
    p["hair_top"] = p["face_top"] + u(0.04, 0.14) + (0.12 if style == 3 else 0.0)
    p["hair_bottom"] = {0: u(-0.2, 0.05), 1: u(0.45, 0.95), 2: u(-0.3, -0.15), 3: u(0.05, 0.35)}[style]
    p["hair_round"] = u(0.25, 0.5)
    p["hair_alpha"] = 0.4 if style == 2 else 1.0
    if style == 2:
        p["hairline"] = p["brow_y"] - u(0.3, 0.4)
    p["ear"] = u(0.9, 1.15)
    p["neck_w"] = u(0.17, 0.25)
    p["beard"] = float(rng.choice(len(BEARD_STYLES), p=[0.64, 0.12, 0.12, 0.07, 0.05]))
    p["glasses"] = float(rng.uniform() < 0.25)
    p["side"] = -1.0 if rng.uniform() < 0.5 else 1.0
    tone = rng.uniform() ** 1.2
    skin = LIGHT_SKIN + (DARK_SKIN - LIGHT_SKIN) * tone + rng.uniform(-0.03, 0.03, 3)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * u(0.85, 1.15) + rng.uniform(-0.03, 0.03, 3)
    p["skin"] = skin
    p["hair"] = hair
    p["brow"] = np.minimum(hair * 0.8, skin * 0.45)  # brows always darker than the skin
    p["iris"] = IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))] + rng.uniform(-0.04, 0.04, 3)
    p["lip"] = skin * np.array([0.8, 0.48, 0.48]) + np.array([0.1, 0.0, 0.02]) * u(0.5, 1.0)
    background = _hsv(rng, (0.1, 0.5), (0.55, 0.95))
    p["background"] = background
    p["background_low"] = background * u(0.65, 0.9)
    p["shirt"] = _hsv(rng, (0.25, 0.8), (0.2, 0.9))
    p["frame"] = _hsv(rng, (0.0, 0.6), (0.05, 0.55))
    return Identity(**{name: _tensor(value) for name, value in p.items()})


def _tensor(value: object) -> torch.Tensor:
    """A scalar factor as a length-1 tensor, a colour as a 1 x 3 tensor clipped to [0, 1]."""
    array = np.asarray(value, dtype=np.float32)
    if array.ndim == 0:
        return torch.tensor([float(array)])
    return torch.from_numpy(np.clip(array, 0.0, 1.0).reshape(1, 3).copy())


def sample_identities(seed: int, count: int) -> Identity:
    """Identities 0 .. count-1 of the dataset with ``seed``."""
    return Identity.cat([sample_identity(seed, i) for i in range(count)])
