"""The presets as benchmark cases of the method benchmarks: image size by preset, and the cases.

Plain `pytest` runs the smoke case of each function once (the code is exercised in CI in seconds);
the quick and paper cases, which cost seconds to minutes a round on a CPU, run only timed.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from eggan.core.config import base_preset

SIZES = {name: base_preset(name)[0].image_size for name in ("smoke", "quick", "paper")}  # 32, 32, 128
CASES = [pytest.param("smoke"), pytest.param("quick", marks=pytest.mark.timed_only),
         pytest.param("paper", marks=pytest.mark.timed_only)]


def au_bank_split(generator: torch.Generator | None = None) -> SimpleNamespace:
    """What a method's ``setup`` reads from the training split: the AU bank its random targets come
    from (64 random AU vectors; the benchmarks time steps, not data)."""
    return SimpleNamespace(aus=torch.rand(64, 17, generator=generator) * 5)
