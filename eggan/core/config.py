"""Typed run configuration: data, training schedule and the method's own dataclass.

Every method offers the presets ``smoke`` (seconds on a CPU, for tests), ``quick`` (the default
run: 25-50 minutes for three methods on 2 idle CPU cores by machine, 32x32), ``standard`` (the same networks
trained about five times longer, for reference results) and ``paper`` (the published settings at
128x128). A run dumps its resolved config as JSON next to its results;
``eggan.core.registry.load_run_config`` reads it back, so a run directory alone says how to rebuild its model.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eggan.data.config import IMAGE_SIZES, DataConfig, SynthConfig
from eggan.errors import ConfigError
from eggan.io import atomic_write_json
from eggan.limits import check_int

PRESETS: tuple[str, ...] = ("smoke", "quick", "standard", "paper")


@dataclass
class TrainConfig:
    """The shared training loop's settings; ``epochs`` (if set) is turned into steps at start."""

    steps: int = 1000
    epochs: int | None = None
    batch_size: int = 8
    seed: int = 0
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 10
    monitor_every: int = 100  # ground-truth learning curves (SynthFACS): evaluate.monitor
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    bf16: bool = False  # bf16 autocast; off by default (WGAN-GP is sensitive to it)


@dataclass
class RunConfig:
    method: str
    preset: str
    data: DataConfig
    train: TrainConfig
    model: Any  # the method's own config dataclass

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], model_config: type) -> RunConfig:
        """Rebuild a dumped config; ``model_config`` is the method's own dataclass, which the
        registry looks up by name (``eggan.core.registry.read_run_config``), so that this module
        knows no method."""
        return cls(
            method=raw["method"],
            preset=raw["preset"],
            data=from_dict(DataConfig, raw["data"]),
            train=from_dict(TrainConfig, raw["train"]),
            model=from_dict(model_config, raw["model"]),
        )

    def dump(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_dict())


def from_dict(kind: type, raw: dict[str, Any]) -> Any:
    """Build dataclass ``kind`` from plain values, recursing into nested dataclasses."""
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{kind.__name__} has no field {unknown[0]!r}")
    values = {}
    for name, value in raw.items():
        hint = hints[name]
        values[name] = from_dict(hint, value) if dataclasses.is_dataclass(hint) else value
    return kind(**values)


def _coerce(text: str, hint: Any, key: str) -> Any:
    """Parse an override's text as the field's declared type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if text.lower() in ("none", "null"):
            return None
        return _coerce(text, args[0], key)
    if origin is typing.Literal:
        if text not in typing.get_args(hint):
            raise ConfigError(f"{key} must be one of {typing.get_args(hint)}, not {text!r}")
        return text
    try:
        if hint is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if hint in (int, float, str):
            return hint(text)
        if origin in (tuple, list):
            inner = typing.get_args(hint)[0]
            return origin(_coerce(part, inner, key) for part in text.split(",") if part)
    except ValueError:
        raise ConfigError(f"{key}={text!r} is not a valid {getattr(hint, '__name__', hint)}") from None
    raise ConfigError(f"{key} cannot be set from the command line")


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply ``section.field=value`` overrides, e.g. ``train.steps=200`` or ``model.lambda_id=0``."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} is not of the form section.field=value")
        *path, leaf = key.strip().split(".")
        node: Any = config
        for part in path:
            if not dataclasses.is_dataclass(node) or not hasattr(node, part):
                raise ConfigError(f"unknown config key {key!r}")
            node = getattr(node, part)
        if not dataclasses.is_dataclass(node) or leaf not in {f.name for f in dataclasses.fields(node)}:
            raise ConfigError(f"unknown config key {key!r}")
        hint = typing.get_type_hints(type(node))[leaf]
        setattr(node, leaf, _coerce(text.strip(), hint, key))
    validate(config)
    return config


# Numbers that must be above zero, by field name: learning rates, batch sizes, step and epoch counts
# of the schedule, intervals. Every other number must be finite and not negative (`check_numbers`).
POSITIVE = re.compile(r"lr|lr_\w+|\w+_lr|\w*batch_size|\w+_batch|steps|epochs|\w+_every")


def validate(config: RunConfig) -> None:
    """Checks that apply to every method, before anything is built or written (each method also
    checks its own fields in its constructor); the device is checked against this machine."""
    from eggan.core.runmeta import select_device

    if config.preset not in PRESETS:
        raise ConfigError(f"unknown preset {config.preset!r}; expected one of {', '.join(PRESETS)}")
    if config.data.image_size not in IMAGE_SIZES:
        raise ConfigError(f"image size {config.data.image_size} is not one of {IMAGE_SIZES}")
    for section in ("data", "train", "model"):
        check_numbers(getattr(config, section), section)
    select_device(config.train.device)


def check_numbers(node: Any, prefix: str) -> None:
    """Every number of a config dataclass (recursively, tuples included) is finite and not
    negative, integers fit torch and numpy (``eggan.limits``), and the ``POSITIVE`` fields are
    above zero: NaN, -1, 2**64 or a zero learning rate would otherwise fail deep inside torch or
    train nothing."""
    for item in dataclasses.fields(node):
        value, key = getattr(node, item.name), f"{prefix}.{item.name}"
        if dataclasses.is_dataclass(value):
            check_numbers(value, key)
            continue
        for number in value if isinstance(value, tuple | list) else (value,):
            if isinstance(number, bool) or not isinstance(number, int | float):
                continue
            if not math.isfinite(number) or number < 0:
                raise ConfigError(f"{key}={number} must be a finite number, not negative")
            if isinstance(number, int):
                check_int(number, key)
            if number == 0 and POSITIVE.fullmatch(item.name):
                raise ConfigError(f"{key}={number} must be positive")


def base_preset(preset: str) -> tuple[DataConfig, TrainConfig]:
    """Data and schedule shared by all methods at a preset; methods adjust what differs."""
    if preset == "smoke":
        synth = SynthConfig(identities=12, test_identities=4, evaluator_identities=4, variants=2)
        data = DataConfig(image_size=32, synth=synth)
        return data, TrainConfig(steps=20, batch_size=4, checkpoint_every=10, sample_every=10, log_every=5)
    if preset in ("quick", "standard"):
        # CPU presets: 32 px (a 64 px step costs about three times as much, and in a short run the
        # autoencoding methods stayed blurry there), batch 32 (on a CPU a larger batch costs less
        # per image), and more people with one image per expression instead of 80 with six: what
        # limits identity preservation on unseen test people is how many people training has seen.
        synth = SynthConfig(identities=400, test_identities=32, variants=1, evaluator_identities=384)
        return DataConfig(image_size=32, synth=synth), TrainConfig(steps=1000, batch_size=32, checkpoint_every=250)
    if preset == "paper":
        return DataConfig(image_size=128), TrainConfig(epochs=400, batch_size=8, checkpoint_every=5000)
    raise ConfigError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
