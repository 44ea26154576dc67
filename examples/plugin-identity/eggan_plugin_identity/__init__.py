"""The smallest complete eggan-bench plug-in method: it learns to give the source back.

``Identity`` is a 1x1 convolution (a colour map) trained with an L1 reconstruction loss: the
floor a real method must beat on expression, with the identity kept. It shows everything a plug-in
needs: a config dataclass, presets, ``train_step`` and ``generate``, and the entry point in
``pyproject.toml`` (``[project.entry-points."eggan_bench.methods"] identity = ...``) that makes
``eggan-bench run --methods identity`` train and score it like a built-in method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from eggan.core.config import RunConfig, base_preset
from eggan.core.method import Condition, DataInfo, Method
from eggan.data.dataset import Batch, Target

__version__ = "0.1.0"


@dataclass
class IdentityConfig:
    lr: float = 1e-2


class Identity(Method):
    name = "identity"
    condition: ClassVar[Condition] = "aus"  # reads the target AUs (and ignores them)
    Config = IdentityConfig

    def __init__(self, config: IdentityConfig, info: DataInfo, total_steps: int, device: torch.device) -> None:
        super().__init__(config, info, total_steps, device)
        self.nets["G"] = nn.Conv2d(3, 3, 1).to(device)
        self.optimizers["G"] = torch.optim.Adam(self.nets["G"].parameters(), lr=config.lr)

    @classmethod
    def preset(cls, name: str) -> RunConfig:
        data, train = base_preset(name)
        return RunConfig("identity", name, data, train, IdentityConfig())

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        loss = F.l1_loss(self.ddp("G")(batch.image), batch.image)
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["G"].step()
        return {"rec": loss.detach()}

    def generate(self, source: torch.Tensor, target: Target) -> torch.Tensor:
        return self.nets["G"](source).clamp(-1, 1)
