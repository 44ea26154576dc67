"""Method names -> Method classes, and reading a dumped run config back (which needs the class).

The registry names each method by a "module:Class" string, imported only when asked for, so that
the core imports no method and `eggan-bench --help` stays fast; a method's module imports the core.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from eggan.core.config import RunConfig
from eggan.core.method import Method
from eggan.errors import ConfigError

# name -> "module:Class"; imported lazily so `eggan-bench --help` stays fast.
REGISTRY: dict[str, str] = {
    "eggan": "eggan.egg.model:EggAN",
    "stargan": "baselines.stargan:StarGAN",
    "homointerp": "baselines.homointerp:HomoInterpGAN",
    "ganimation": "baselines.ganimation:GANimation",
}


def method_names() -> list[str]:
    return list(REGISTRY)


def aus_conditioned() -> list[str]:
    """The registered methods whose ``translate`` reads target AU vectors (what Eq. 8 needs)."""
    return [name for name in REGISTRY if get_method(name).condition == "aus"]


def get_method(name: str) -> type[Method]:
    """The Method class registered as ``name``; unknown names get a one-line error."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown method {name!r}; available: {', '.join(REGISTRY)}")
    module, _, cls = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def read_run_config(raw: dict[str, Any]) -> RunConfig:
    """A dumped config (``RunConfig.to_dict``) rebuilt with its method's own config dataclass."""
    return RunConfig.from_dict(raw, get_method(raw["method"]).Config)


def load_run_config(path: str | Path) -> RunConfig:
    """The config a run dumped as JSON; anything else is a one-line error naming the file."""
    try:
        return read_run_config(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a run config ({exc})", path) from None
