"""The 17 OpenFace intensity Action Units and the eight RaFD expressions, in the paper's order.

Every file, table and tensor in the suite uses this order; AU intensities are on OpenFace's
0-5 scale everywhere outside a method's own internals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from eggan.errors import ConfigError

AU_IDS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)
AU_NAMES: tuple[str, ...] = tuple(f"AU{n:02d}" for n in AU_IDS)
AU_COLUMNS: tuple[str, ...] = tuple(f"{name}_r" for name in AU_NAMES)
N_AUS = len(AU_IDS)
# The 12 AUs DISFA codes (dataset paper; OpenFace's DISFA scripts list the same). Its other five
# (7, 10, 14, 23, 45) are not coded: missing, never 0.
DISFA_CODED_AUS: tuple[str, ...] = tuple(f"AU{n:02d}_r" for n in (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26))
AU_MAX = 5.0

AU_DESCRIPTIONS: dict[str, str] = {
    "AU01": "inner brow raiser",
    "AU02": "outer brow raiser",
    "AU04": "brow lowerer",
    "AU05": "upper lid raiser",
    "AU06": "cheek raiser",
    "AU07": "lid tightener",
    "AU09": "nose wrinkler",
    "AU10": "upper lip raiser",
    "AU12": "lip corner puller",
    "AU14": "dimpler",
    "AU15": "lip corner depressor",
    "AU17": "chin raiser",
    "AU20": "lip stretcher",
    "AU23": "lip tightener",
    "AU25": "lips part",
    "AU26": "jaw drop",
    "AU45": "blink",
}

# Alphabetical, so the class index equals torchvision ImageFolder's index on the StarGAN layout.
EXPRESSIONS: tuple[str, ...] = (
    "angry",
    "contemptuous",
    "disgusted",
    "fearful",
    "happy",
    "neutral",
    "sad",
    "surprised",
)
N_EXPRESSIONS = len(EXPRESSIONS)


def select_coded(values: torch.Tensor, coded: Sequence[str]) -> torch.Tensor:
    """The ``coded`` AU columns of a ... x 17 tensor (an estimator's reading, a parsed target), in
    ``AU_COLUMNS`` order: what a model trained on a dataset that codes only those AUs takes."""
    return values[..., [AU_COLUMNS.index(c) for c in coded]]


def expand_coded(values: torch.Tensor, coded: Sequence[str]) -> torch.Tensor:
    """A ... x len(coded) tensor as ... x 17, NaN for every AU not in ``coded`` (missing, not 0)."""
    full = torch.full((*values.shape[:-1], N_AUS), float("nan"), dtype=values.dtype, device=values.device)
    full[..., [AU_COLUMNS.index(c) for c in coded]] = values
    return full


def coded_names(coded: Sequence[str]) -> list[str]:
    """AU columns (AU01_r) as the names tables use (AU01)."""
    return [c.removesuffix("_r") for c in coded]


def au_list(columns: Sequence[str]) -> str:
    """AU columns as a short list for a message or a caption: "AU01, AU02, AU04"."""
    return ", ".join(coded_names(columns)) or "none"


def au_index(name: str) -> int:
    """Index of an AU given as 'AU12', 'au12', '12' or 'AU12_r'."""
    match = re.fullmatch(r"(?:au)?0*(\d+)(?:_r)?", name.strip().lower())
    if match is None or int(match.group(1)) not in AU_IDS:
        raise ConfigError(f"unknown AU {name!r}; the 17 intensity AUs are {', '.join(AU_NAMES)}")
    return AU_IDS.index(int(match.group(1)))


def expression_index(name: str) -> int:
    """Index of one of the eight expressions; the error lists the accepted names."""
    key = name.strip().lower()
    if key not in EXPRESSIONS:
        raise ConfigError(f"unknown expression {name!r}; expected one of {', '.join(EXPRESSIONS)}")
    return EXPRESSIONS.index(key)


def parse_au_vector(text: str) -> torch.Tensor:
    """Parse "AU12=3,AU06=2" into a 17-vector on the 0-5 scale (unnamed AUs are 0). An empty list
    or an AU named twice is refused: either would silently mean something the user did not say."""
    vector = torch.zeros(N_AUS)
    seen: dict[int, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"target AU {item!r} is not of the form AU12=3")
        try:
            intensity = float(value)
        except ValueError:
            raise ConfigError(f"intensity {value!r} of {name.strip()} is not a number") from None
        check_intensity(intensity, name.strip())
        index = au_index(name)
        if index in seen:
            raise ConfigError(f"{AU_NAMES[index]} is given twice ({seen[index]} and {item}) in {text!r}")
        seen[index] = item
        vector[index] = intensity
    if not seen:
        raise ConfigError(f"no AU intensity in {text!r}; expected e.g. AU12=3,AU06=2")
    return vector


def format_au_vector(vector: torch.Tensor) -> str:
    """A 17-vector as "AU06=1.2,AU12=3.4" (AUs under 0.05 left out): what ``parse_au_vector`` reads."""
    return ",".join(f"{name}={value:.1f}" for name, value in zip(AU_NAMES, vector.tolist(), strict=True)
                    if value >= 0.05)


def check_intensity(value: float, name: str) -> None:
    """Intensities live on OpenFace's 0-5 scale; anything else is a user error."""
    if not 0.0 <= value <= AU_MAX:
        raise ConfigError(f"intensity {value} of {name} is outside 0-5")
