"""Stand-in methods for the evaluation tests: they measure the protocol machinery, not a GAN."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from eggan.core.config import RunConfig
from eggan.core.method import Condition, DataInfo, Method
from eggan.data.dataset import Batch, Target


@dataclass
class NoConfig:
    pass


class KeepSource(Method):
    """Returns the source unchanged (identity kept, expression never edited)."""

    name = "keep-source"
    condition: ClassVar[Condition] = "aus"
    Config = NoConfig

    @classmethod
    def preset(cls, name: str) -> RunConfig:
        raise NotImplementedError

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        return {}

    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        return source


class PasteTarget(KeepSource):
    """Returns the target image (expression copied exactly, identity lost)."""

    name = "paste-target"
    condition: ClassVar[Condition] = "image"

    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        return target.image


def standin(kind: type[Method], size: int) -> Method:
    return kind(NoConfig(), DataInfo(image_size=size, n_identities=4), 1, torch.device("cpu"))
