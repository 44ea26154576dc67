"""The largest integers the suite passes on to torch and numpy, checked where the user gives them.

A seed becomes ``torch.Generator.manual_seed`` and ``numpy.random`` seeds, and the training loop
derives per-epoch and per-step seeds from it (``seed * 1_000_003 + epoch`` and the like), so seeds
are limited to numpy's 32-bit seed range, where every derived seed still fits torch's 64 bits.
Any other integer setting (steps, sizes, counts) must fit a signed 64-bit integer, torch's index
type. Without these checks a seed of 2**64 ends in an overflow traceback after files are written.
"""

from __future__ import annotations

import re

from eggan.errors import ConfigError

MAX_SEED = 2**32 - 1
# Default share of unusable source images (unreadable, or no face found) above which a reader
# refuses to write a dataset; `--max-failed` changes it (here, not in eggan.data, so the CLI can
# show it without importing torch).
MAX_BAD_IMAGE_FRACTION = 0.01
MAX_INT = 2**63 - 1
SEED_NAME = re.compile(r"(\w+_)?seeds?")


def check_int(value: int, name: str) -> None:
    """One-line ``ConfigError`` for an integer setting ``name`` beyond what torch and numpy accept."""
    if SEED_NAME.fullmatch(name.lstrip("-").split(".")[-1].replace("-", "_")):
        if not 0 <= value <= MAX_SEED:
            raise ConfigError(f"{name}={value} must be a seed from 0 to {MAX_SEED} (numpy's seed range)")
    elif value > MAX_INT:
        raise ConfigError(f"{name}={value} is larger than {MAX_INT}, the largest integer torch takes")
