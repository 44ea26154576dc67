"""What every run writes next to its results: versions, device and threads, so a number can be traced."""

from __future__ import annotations

import platform
import re
import sys
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import torch

import eggan

PACKAGES = ("torch", "torchvision", "numpy", "pandas", "scipy", "pillow")


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; ``cpu``, ``cuda`` or ``cuda:N`` name one. Any other name,
    or a CUDA device this machine does not have, is a user error (not a torch traceback)."""
    from eggan.errors import ConfigError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise ConfigError(f"unknown device {name!r}; expected auto, cpu, cuda or cuda:N")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} requested but this machine has {torch.cuda.device_count()} CUDA "
                          "device(s), cuda:0 and up")
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def environment(device: torch.device) -> dict[str, Any]:
    """Versions, device and thread count, recorded in every run's ``meta.json``."""
    versions = {"python": sys.version.split()[0], "eggan-bench": eggan.__version__}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions,
        "platform": platform.platform(),
        "device": {"type": device.type, "name": device_name(device), "cuda": torch.version.cuda},
        "torch_threads": torch.get_num_threads(),
    }
