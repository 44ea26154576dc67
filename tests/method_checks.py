"""Checks every Method must pass, shared by the baselines' test files (any Method can use them).

They build or train a method's ``smoke`` preset on the tiny dataset folder of ``conftest.py``
(a few seconds on one core), or take such a method built by ``build``.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hang_guard import HANG_GUARD_S

from eggan.core.checkpoint import load_checkpoint
from eggan.core.config import RunConfig, apply_overrides
from eggan.core.method import DataInfo, Method
from eggan.core.registry import get_method
from eggan.core.train import load_trained, train_run
from eggan.data.dataset import Batch, FaceDataset, Target, load_dataset
from eggan.errors import ConfigError

FIELDS = ("aus", "expression", "image")


def smoke_config(name: str, data: Path, *overrides: str) -> RunConfig:
    """The smoke preset on ``data``, on the CPU (results compared bit for bit), checkpoints only at the end."""
    config = get_method(name).preset("smoke")
    config.data.source = str(data)
    return apply_overrides(config, ["train.checkpoint_every=1000", "train.sample_every=1000", "train.device=cpu",
                                    *overrides])


def build(name: str, data: Path, seed: int = 0, overrides: tuple[str, ...] = (), steps: int = 100
          ) -> tuple[Method, FaceDataset]:
    """The smoke-preset method on the tiny training split, set up and pre-trained, on the CPU."""
    config = smoke_config(name, data, *overrides)
    train = load_dataset(data, config.data.image_size).split("train")
    torch.manual_seed(seed)
    method = get_method(name)(config.model, DataInfo(config.data.image_size, len(train.identities)), steps,
                              torch.device("cpu"))
    method.setup(train)
    method.pretrain(train, lambda _msg: None)
    return method, train


def checkpoint_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every network, optimiser and scheduler tensor of a suite checkpoint, by a flat key."""
    state = load_checkpoint(path)["method_state"]
    flat: dict[str, torch.Tensor] = {}
    for name, sd in state["nets"].items():
        flat.update({f"net.{name}.{k}": v for k, v in sd.items()})
    for name, opt in state["optimizers"].items():
        for pid, slot in opt["state"].items():
            flat.update({f"opt.{name}.{pid}.{k}": torch.as_tensor(v) for k, v in slot.items()})
    for name, sched in state["schedulers"].items():
        flat[f"sched.{name}"] = torch.as_tensor(sched["last_epoch"])
        flat[f"sched.{name}.lr"] = torch.as_tensor(sched["_last_lr"])
    return flat


def check_resume_is_exact(name: str, data: Path, tmp: Path, steps: int, *overrides: str) -> None:
    """``steps`` straight equals ``steps // 2`` + resume + the rest, for every state tensor."""
    config = smoke_config(name, data, f"train.steps={steps}", *overrides)
    train_run(config, tmp / "straight")
    train_run(config, tmp / "resumed", until=steps // 2)
    assert train_run(config, tmp / "resumed").step == steps
    a, b = checkpoint_tensors(tmp / "straight" / "checkpoint.pt"), checkpoint_tensors(tmp / "resumed" / "checkpoint.pt")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    trained = load_trained(tmp / "resumed" / "checkpoint.pt")
    assert trained.metadata()["method"] == name


def only_field(target: Target, field: str) -> Target:
    return Target(**{f: getattr(target, f) if f == field else None for f in FIELDS})


def check_translate_contract(method: Method, batch: Batch) -> None:
    """Right shape, range [-1, 1], reads only its declared field, refuses a target without it."""
    target = Target.from_batch(Batch(*(torch.roll(t, 1, 0) for t in (batch.image, batch.aus, batch.identity,
                                                                     batch.expression))))
    out = method.translate(batch.image, target)
    assert out.shape == batch.image.shape and out.dtype == batch.image.dtype
    assert out.min() >= -1 and out.max() <= 1 and torch.isfinite(out).all()
    assert torch.equal(method.translate(batch.image, only_field(target, method.condition)), out)
    with pytest.raises(ConfigError):
        method.translate(batch.image, dataclasses.replace(target, **{method.condition: None}))
    check_translate_runs_in_eval_mode(method, batch.image, target)


def check_translate_runs_in_eval_mode(method: Method, image: torch.Tensor, target: Target) -> None:
    """Every network runs in eval mode (BatchNorm's running statistics, no dropout) and is left in
    the mode it was found in, networks in mixed modes included."""
    method.nets.train()
    method.nets[next(iter(method.nets))].eval()
    before = {name: net.training for name, net in method.nets.items()}
    modes_seen: list[bool] = []
    hooks = [net.register_forward_pre_hook(lambda module, _args: modes_seen.append(module.training))
             for net in method.nets.values()]
    try:
        method.translate(image, target)
    finally:
        for hook in hooks:
            hook.remove()
    assert modes_seen and not any(modes_seen)
    assert {name: net.training for name, net in method.nets.items()} == before


def check_state_round_trip(name: str, data: Path, batch: Batch) -> None:
    """A method trained a little, saved and loaded into a freshly built one, translates identically."""
    method, _ = build(name, data, seed=0)
    for step in range(3):
        method.train_step(batch, step)
    copy, _ = build(name, data, seed=1)
    target = Target.from_batch(batch)
    assert not torch.equal(copy.translate(batch.image, target), method.translate(batch.image, target))
    copy.load_state_dict(method.state_dict())
    assert torch.equal(copy.translate(batch.image, target), method.translate(batch.image, target))
    assert copy.metadata() == method.metadata()


RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")


def check_ddp_replicas_agree(name: str, data: Path, tmp: Path) -> None:
    """Two CPU processes under torchrun (gloo) end with identical parameters on both ranks.

    Normalisation running statistics are each rank's own (as with the authors' DataParallel);
    the checkpoint holds rank 0's.
    """
    tests = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": f"{tests}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(tests / "ddp_worker.py"), str(data), str(tmp), name]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        if not key.endswith(RUNNING_STATS):
            assert torch.equal(rank0[key], rank1[key]), key
