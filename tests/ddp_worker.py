"""Run under torchrun by tests/test_train.py: trains the toy method with DDP on CPU (gloo) and
saves this rank's live parameters, so the test can check that the replicas stayed identical."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from eggan.core.config import apply_overrides
from eggan.core.registry import REGISTRY, get_method
from eggan.core.train import train_run

REGISTRY["toy"] = "toy_method:ToyMethod"

if __name__ == "__main__":
    data, out, method = sys.argv[1], Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "toy"
    config = get_method(method).preset("smoke")
    config.data.source = data
    apply_overrides(config, ["train.steps=6", "train.batch_size=4", "train.device=cpu"])
    result = train_run(config, out)
    torch.save(result.method.nets.state_dict(), out / f"rank{os.environ['RANK']}.pt")
