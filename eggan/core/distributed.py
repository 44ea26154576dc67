"""torchrun + DistributedDataParallel: one process per device, falling back to a single process.

`torchrun --nproc_per_node=K -m eggan train ...` sets WORLD_SIZE/RANK/LOCAL_RANK; without them
training runs in one process and none of this does anything. CPU runs use the gloo backend
(which is how the 2-process test runs), CUDA runs use NCCL with one GPU per local rank.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> tuple[DistEnv, torch.device]:
    """Join the process group torchrun describes; returns the env and this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistEnv(), device
    env = DistEnv(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return env, device


def ddp_wrapper(env: DistEnv, device: torch.device):
    """A function that wraps one network in DDP for this rank's device."""

    def wrap(net: nn.Module) -> nn.Module:
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(net, device_ids=ids)

    return wrap


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def all_gather(env: DistEnv, obj: Any) -> list[Any]:
    """Every rank's ``obj`` (e.g. RNG states for the checkpoint), in rank order."""
    if not env.distributed:
        return [obj]
    gathered: list[Any] = [None] * env.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def any_true(env: DistEnv, flags: list[bool], device: torch.device) -> list[bool]:
    """Each flag, true when set on any rank (so every rank stops together), in one all-reduce."""
    if not env.distributed:
        return flags
    value = torch.tensor([1.0 if flag else 0.0 for flag in flags], device=device)
    dist.all_reduce(value)
    return [bool(v > 0) for v in value.tolist()]
