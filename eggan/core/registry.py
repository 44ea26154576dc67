"""Method names -> Method classes, and reading a dumped run config back (which needs the class).

The registry names each method by a "module:Class" string, imported only when asked for, so that
the core imports no method and `eggan-bench --help` stays fast; a method's module imports the core.

Methods of other packages plug in through the entry-point group ``eggan_bench.methods``
(``[project.entry-points."eggan_bench.methods"] mine = "my_package:MyMethod"``): they train and are
scored through the same ``Method`` interface. A built-in name wins a clash, with a warning naming the
package that lost it; ``plugin_record`` is what a plug-in row's metadata says of its origin.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import warnings
from pathlib import Path
from typing import Any

from eggan.core.config import RunConfig
from eggan.core.method import Method
from eggan.errors import ConfigError, EgganWarning

# name -> "module:Class"; imported lazily so `eggan-bench --help` stays fast.
REGISTRY: dict[str, str] = {
    "eggan": "eggan.egg.model:EggAN",
    "stargan": "baselines.stargan:StarGAN",
    "homointerp": "baselines.homointerp:HomoInterpGAN",
    "ganimation": "baselines.ganimation:GANimation",
}


PLUGIN_GROUP = "eggan_bench.methods"


def plugins() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed plug-in methods by name; one whose name is built in is left out, with a warning."""
    found = {}
    for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        if entry.name in REGISTRY:
            owner = entry.dist.name if entry.dist else "an installed package"
            warnings.warn(EgganWarning(f"plug-in method {entry.name!r} of {owner} ({entry.value}) ignored: the "
                                       "built-in method of that name wins"), stacklevel=2)
            continue
        found[entry.name] = entry
    return found


def plugin_record(name: str) -> dict[str, Any] | None:
    """Where a plug-in method comes from (package, version, entry point); None for a built-in one."""
    entry = None if name in REGISTRY else plugins().get(name)
    if entry is None:
        return None
    return {"package": entry.dist.name if entry.dist else None, "version": entry.dist.version if entry.dist else None,
            "entry_point": f"{entry.name} = {entry.value}", "group": PLUGIN_GROUP}


def method_names() -> list[str]:
    return [*REGISTRY, *plugins()]


def aus_conditioned() -> list[str]:
    """The registered methods whose ``translate`` reads target AU vectors (what Eq. 8 needs)."""
    return [name for name in REGISTRY if get_method(name).condition == "aus"]


def get_method(name: str) -> type[Method]:
    """The Method class registered as ``name``; unknown names get a one-line error."""
    if name in REGISTRY:
        module, _, cls = REGISTRY[name].partition(":")
        return getattr(importlib.import_module(module), cls)
    installed = plugins()
    if name not in installed:
        raise ConfigError(f"unknown method {name!r}; available: {', '.join([*REGISTRY, *installed])}")
    loaded = installed[name].load()
    if not (isinstance(loaded, type) and issubclass(loaded, Method)):
        raise ConfigError(f"plug-in method {name!r} ({installed[name].value}) is not a subclass of "
                          "eggan.core.method.Method")
    return loaded


def read_run_config(raw: dict[str, Any]) -> RunConfig:
    """A dumped config (``RunConfig.to_dict``) rebuilt with its method's own config dataclass."""
    return RunConfig.from_dict(raw, get_method(raw["method"]).Config)


def load_run_config(path: str | Path) -> RunConfig:
    """The config a run dumped as JSON; anything else is a one-line error naming the file."""
    try:
        return read_run_config(json.loads(Path(path).read_text()))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a run config ({exc})", path) from None
