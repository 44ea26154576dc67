"""The shared training loop: exact resume, checkpoints, non-finite losses, DDP on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from eggan.checkpoint import load_checkpoint
from eggan.config import apply_overrides
from eggan.errors import CheckpointError, ConfigError
from eggan.method import REGISTRY, get_method
from eggan.train import DataOrder, NonFiniteLossError, load_trained, train_run

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "toy", "toy_method:ToyMethod")


def toy_config(data: Path, *overrides: str):
    config = get_method("toy").preset("smoke")
    config.data.source = str(data)
    return apply_overrides(config, ["train.steps=8", "train.checkpoint_every=100", "train.device=cpu", *overrides])


def states(path: Path) -> dict[str, torch.Tensor]:
    payload = load_checkpoint(path)
    flat = {f"net.{k}": v for name, sd in payload["method_state"]["nets"].items() for k, v in
            ((f"{name}.{key}", value) for key, value in sd.items())}
    for name, opt in payload["method_state"]["optimizers"].items():
        for pid, slot in opt["state"].items():
            for key, value in slot.items():
                flat[f"opt.{name}.{pid}.{key}"] = torch.as_tensor(value)
    return flat


def test_resume_is_exact(tiny_dataset: Path, tmp_path: Path) -> None:
    config = toy_config(tiny_dataset)
    train_run(config, tmp_path / "straight")
    interrupted = train_run(config, tmp_path / "resumed", until=4)
    assert interrupted.step == 4 and load_checkpoint(interrupted.checkpoint)["step"] == 4
    resumed = train_run(config, tmp_path / "resumed")
    assert resumed.step == 8
    a, b = states(tmp_path / "straight" / "checkpoint.pt"), states(tmp_path / "resumed" / "checkpoint.pt")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    logged = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert logged == sorted(set(logged)) and logged[-1] == 8


def test_run_directory_records_config_and_environment(tiny_dataset: Path, tmp_path: Path) -> None:
    result = train_run(toy_config(tiny_dataset), tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["method"] == "toy" and saved["train"]["steps"] == 8
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["environment"]["versions"]["torch"] == torch.__version__.split("+")[0]  # the installed package
    assert meta["environment"]["device"]["type"] == "cpu"
    # The toy's G: 3x3 convs (3 + 17 AUs) -> 8 -> 3; D: 4x4 convs 3 -> 8 -> 1 (weights + biases).
    assert meta["method"]["parameters"] == {"G": 20 * 8 * 9 + 8 + 8 * 3 * 9 + 3, "D": 3 * 8 * 16 + 8 + 8 * 16 + 1}
    assert meta["dataset"]["identities"] == 6
    assert sorted(p.name for p in (tmp_path / "samples").iterdir())[-1] == "step-0000008.png"
    method = load_trained(result.checkpoint)
    out = method.translate(torch.zeros(2, 3, 32, 32), method_target(2))
    assert out.shape == (2, 3, 32, 32) and out.abs().max() <= 1


def method_target(n: int):
    from eggan.data.dataset import Target

    return Target(aus=torch.full((n, 17), 2.0))


def test_resume_refuses_another_config(tiny_dataset: Path, tmp_path: Path) -> None:
    train_run(toy_config(tiny_dataset), tmp_path, until=2)
    with pytest.raises(ConfigError, match=r"model\.width"):
        train_run(toy_config(tiny_dataset, "model.width=4"), tmp_path)
    # logging cadence may change on resume
    assert train_run(toy_config(tiny_dataset, "train.log_every=2"), tmp_path).step == 8


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tiny_dataset: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    config = toy_config(tiny_dataset, "train.checkpoint_every=2")
    toy = get_method("toy")
    original = toy.train_step

    def exploding(self, batch, step):
        losses = original(self, batch, step)
        if step == 5:
            losses["d"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(toy, "train_step", exploding)
    with pytest.raises(NonFiniteLossError, match="step 5: loss term d"):
        train_run(config, tmp_path)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 4


def test_checkpoint_errors(tiny_dataset: Path, tmp_path: Path) -> None:
    result = train_run(toy_config(tiny_dataset, "train.steps=2"), tmp_path / "run")
    with pytest.raises(CheckpointError, match="method 'toy', expected 'eggan'"):
        load_checkpoint(result.checkpoint, method="eggan")
    with pytest.raises(CheckpointError, match="trained at 32x32, expected 64x64"):
        load_checkpoint(result.checkpoint, image_size=64)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(result.checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(truncated)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "x", "config": ConfigError("pickled object")}, unsafe)
    with pytest.raises(CheckpointError, match="arbitrary unpickling"):
        load_checkpoint(unsafe)


def test_data_order_shards_and_repeats() -> None:
    from eggan.distributed import DistEnv

    ranks = [DataOrder(20, 4, DistEnv(r, 2, r), seed=3) for r in range(2)]
    assert ranks[0].steps_per_epoch == 2
    epoch = torch.cat([o.indices(s) for s in range(2) for o in ranks])
    assert sorted(epoch.tolist()) == sorted(set(epoch.tolist())) and len(epoch) == 16
    assert torch.equal(ranks[0].indices(1), DataOrder(20, 4, DistEnv(0, 2, 0), seed=3).indices(1))
    with pytest.raises(ConfigError, match="fewer than one batch"):
        DataOrder(3, 4, DistEnv(), seed=0)


@pytest.mark.ddp
def test_ddp_two_processes_keep_replicas_identical(tiny_dataset: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(TESTS / "ddp_worker.py"), str(tiny_dataset), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["world_size"] == 2


def test_bf16_autocast_option_trains(tiny_dataset: Path, tmp_path: Path) -> None:
    result = train_run(toy_config(tiny_dataset, "train.bf16=true", "train.steps=2"), tmp_path)
    assert result.step == 2 and result.losses
    assert all(torch.isfinite(torch.tensor(v)) for v in result.losses.values())
