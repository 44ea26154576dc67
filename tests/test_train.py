"""The shared training loop: exact resume, checkpoints, non-finite losses, DDP on CPU."""

from __future__ import annotations

import copy
import json
import os
import random
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest
import torch
from hang_guard import HANG_GUARD_S

from eggan.core.checkpoint import load_checkpoint, load_file, save_checkpoint
from eggan.core.config import apply_overrides
from eggan.core.method import Method
from eggan.core.registry import REGISTRY, get_method
from eggan.core.train import DataOrder, NonFiniteLossError, load_trained, train_run
from eggan.data.dataset import Batch
from eggan.errors import CheckpointError, ConfigError, Interrupted

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


def test_resume_refuses_another_config_and_reads_a_setting_added_since_as_its_default(
        tiny_dataset: Path, tmp_path: Path) -> None:
    """A checkpoint written before ``lambda_rec`` existed (removed from its config here) resumes
    under a config that keeps the default (10), and is refused under one that sets 5, as is a
    change of a setting it has (lr)."""
    config = toy_config(tiny_dataset)
    train_run(config, tmp_path, until=4)
    path = tmp_path / "checkpoint.pt"
    payload = load_checkpoint(path)
    del payload["config"]["model"]["lambda_rec"]
    save_checkpoint(path, payload)
    (tmp_path / "config.json").unlink()  # the copy beside it had the field too
    for change, detail in (("model.lambda_rec=5", "model.lambda_rec: 10.0 vs 5.0"), ("model.lr=0.01", "model.lr")):
        with pytest.raises(ConfigError, match=f"trained with another config \\({detail}"):
            train_run(toy_config(tiny_dataset, change), tmp_path)
    assert train_run(config, tmp_path).step == 8


def record_batches(monkeypatch: pytest.MonkeyPatch) -> list[Batch]:
    """Every batch the toy method's train_step receives, in order."""
    seen: list[Batch] = []
    toy = get_method("toy")
    original = toy.train_step

    def step(self: Method, batch: Batch, index: int) -> dict[str, torch.Tensor]:
        seen.append(Batch(*(t.clone() for t in (batch.image, batch.aus, batch.identity, batch.expression))))
        return original(self, batch, index)

    monkeypatch.setattr(toy, "train_step", step)
    return seen


def test_a_log_line_holds_the_mean_of_each_loss_since_the_last_line(
        tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With G stepped every 3rd iteration and a line every 3rd (steps 2, 5, 8), no line falls on a G
    step: each line still holds G's loss, the one G step of its window, and D's mean over three."""
    toy = get_method("toy")
    original, returned = toy.train_step, []

    def recording(self: Method, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        returned.append({name: float(value) for name, value in original(self, batch, step).items()})
        return {name: torch.tensor(value) for name, value in returned[-1].items()}

    monkeypatch.setattr(toy, "train_step", recording)
    train_run(toy_config(tiny_dataset, "model.n_critic=3", "train.steps=9", "train.log_every=3"), tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    lines = [line for line in lines if "d" in line]
    assert [line["step"] for line in lines] == [3, 6, 9]
    for line, first in zip(lines, (0, 3, 6), strict=True):
        assert line["g"] == pytest.approx(returned[first]["g"]) and "g" not in returned[first + 1]
        assert line["d"] == pytest.approx(sum(returned[i]["d"] for i in range(first, first + 3)) / 3)


def test_images_per_s_counts_the_steps_of_its_line_and_only_their_time(
        tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that only train_step (1 s) and the sample grid (100 s) move: every line reads one
    batch (4 images) per second, the resumed run's first line too, though it covers 2 steps, not 3,
    and so does the line at step 8, though the samples drawn at step 6 fall in its window."""
    from types import SimpleNamespace

    import eggan.core.train as loop

    clock = [0.0]
    monkeypatch.setattr(loop, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    toy, sample = get_method("toy"), loop._sample_grid
    original = toy.train_step

    def timed_step(self: Method, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        clock[0] += 1.0
        return original(self, batch, step)

    def slow_sample(*args: object) -> None:
        clock[0] += 100.0
        sample(*args)

    monkeypatch.setattr(toy, "train_step", timed_step)
    monkeypatch.setattr(loop, "_sample_grid", slow_sample)
    config = toy_config(tiny_dataset, "train.log_every=3", "train.sample_every=3")  # batch 4, 8 steps
    train_run(config, tmp_path, until=4)
    train_run(config, tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    rates = {line["step"]: line["images_per_s"] for line in lines if "images_per_s" in line}
    assert rates == {3: 4.0, 6: 4.0, 8: 4.0}


@pytest.mark.parametrize("until", [6, 8, 13])  # inside the first epoch, at its end, inside the second
def test_resume_across_an_epoch_boundary_is_exact(tiny_dataset: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, until: int) -> None:
    """The tiny split has 32 training images, 8 batches of 4 per epoch: a run of 20 steps stopped at
    ``until`` and resumed sees the same batches (flips included) and ends with the same state as a
    run that never stopped."""
    seen = record_batches(monkeypatch)
    config = toy_config(tiny_dataset, "train.steps=20", "data.hflip=true")
    train_run(config, tmp_path / "straight")
    straight = list(seen)
    seen.clear()
    assert train_run(config, tmp_path / "resumed", until=until).step == until
    assert train_run(config, tmp_path / "resumed").step == 20
    assert len(seen) == len(straight) == 20
    for step, (a, b) in enumerate(zip(straight, seen, strict=True)):
        assert torch.equal(a.image, b.image) and torch.equal(a.identity, b.identity), step
    a, b = states(tmp_path / "straight" / "checkpoint.pt"), states(tmp_path / "resumed" / "checkpoint.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    rng = [load_checkpoint(tmp_path / run / "checkpoint.pt")["rng"][0]["torch"] for run in ("straight", "resumed")]
    assert torch.equal(*rng)
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["data"] == {
        "epoch": 2, "position": 4, "steps_per_epoch": 8, "seed": 0}


def test_each_epoch_shows_every_training_image_once_in_a_new_order(tiny_dataset: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """What the method receives: each epoch is a permutation of the training split, a new one each
    epoch; with data.hflip each image comes as it is or mirrored left to right, both occurring."""
    from eggan.data.dataset import load_dataset

    train = load_dataset(tiny_dataset, 32).split("train")
    by_face = {(int(i), int(e)): image for i, e, image in zip(train.identity_index, train.expression_index,
                                                               train.batch(torch.arange(len(train))).image,
                                                               strict=True)}
    seen = record_batches(monkeypatch)
    train_run(toy_config(tiny_dataset, "train.steps=16", "data.hflip=true"), tmp_path)
    epochs = [seen[:8], seen[8:]]
    orders = []
    flipped = []
    for epoch in epochs:
        faces = [(int(i), int(e)) for batch in epoch for i, e in zip(batch.identity, batch.expression, strict=True)]
        assert sorted(faces) == sorted(by_face), "an epoch is not the training split once"
        orders.append(faces)
        for batch in epoch:
            for i, e, image in zip(batch.identity, batch.expression, batch.image, strict=True):
                original = by_face[(int(i), int(e))]
                assert torch.equal(image, original) or torch.equal(image, original.flip(-1))
                flipped.append(not torch.equal(image, original))
    assert orders[0] != orders[1]
    assert 0 < sum(flipped) < len(flipped)


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


def poisoned(monkeypatch: pytest.MonkeyPatch, at: int, poison: Callable[[Method], object]) -> None:
    """Let the toy method's ``poison(method)`` run right after its train step ``at``."""
    toy = get_method("toy")
    original = toy.train_step

    def step(self: Method, batch: Batch, index: int) -> dict[str, torch.Tensor]:
        losses = original(self, batch, index)
        if index == at:
            poison(self)
        return losses

    monkeypatch.setattr(toy, "train_step", step)


def inf_in_adam(method: Method) -> None:
    """Adam's second moment overflowing, as with model.lr=10: the losses stay finite meanwhile."""
    next(iter(method.optimizers["D"].state.values()))["exp_avg_sq"].fill_(float("inf"))


@pytest.mark.parametrize(("every", "at", "message", "kept"), [
    ("100", 4, r"step 4: optimiser D state exp_avg_sq is not finite; stopped, no checkpoint had been saved yet$", None),
    ("2", 4, r"step 4: optimiser D state exp_avg_sq is not finite; stopped, the last good checkpoint \(.*"
             r"checkpoint\.pt, step 4\) is kept", 4),
    ("2", 5, r"step 5: optimiser D state exp_avg_sq is not finite; .*\(.*checkpoint\.pt, step 4\) is kept", 4),
    # a NaN weight between log steps: the next step's losses show it, before any checkpoint exists
    ("100", 0, r"step 1: loss term d is not finite; stopped, no checkpoint had been saved yet$", None),
])
def test_non_finite_weights_or_optimiser_state_stop_before_they_are_saved(
        tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: str, at: int, message: str,
        kept: int | None) -> None:
    """The run stops at the poisoned step; the checkpoint on disk (if any) is the last good one, finite,
    and no file of the run holds the poisoned state."""
    poison = inf_in_adam if at else lambda method: method.nets["G"][0].weight.data.fill_(float("nan"))
    poisoned(monkeypatch, at, poison)
    with pytest.raises(NonFiniteLossError, match=message):
        train_run(toy_config(tiny_dataset, f"train.checkpoint_every={every}"), tmp_path)
    checkpoint = tmp_path / "checkpoint.pt"
    if kept is None:
        assert not checkpoint.exists() and sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".pt") == []
    else:
        assert load_checkpoint(checkpoint)["step"] == kept
        saved = states(checkpoint)
        assert any(".exp_avg_sq" in key for key in saved) and all(torch.isfinite(t).all() for t in saved.values())


def test_non_finite_names_the_first_bad_loss_weight_or_optimiser_state(tiny_dataset: Path) -> None:
    """NaN, +inf and -inf are each caught in a loss term, a weight and an optimiser state; losses
    alone (between log steps) are checked without reading the state."""
    from eggan.core.method import DataInfo
    from eggan.core.train import non_finite
    from eggan.data.dataset import load_dataset

    toy = get_method("toy")
    method = toy(toy.preset("smoke").model, DataInfo(32, 4), 10, torch.device("cpu"))
    method.train_step(load_dataset(tiny_dataset, 32).batch(torch.arange(4)), 0)  # Adam has state now
    finite = {"d": torch.tensor(0.5), "g": torch.tensor([1.0, 2.0])}
    assert non_finite(finite, method) is None
    for bad in (float("nan"), float("inf"), -float("inf")):
        assert non_finite({**finite, "g": torch.tensor([1.0, bad])}) == "loss term g"
        assert non_finite({**finite, "g": torch.tensor([1.0, bad])}, method) == "loss term g"
        broken = copy.deepcopy(method)
        broken.nets["D"][2].bias.data[0] = bad
        assert non_finite(finite, broken) == "weight D.2.bias"
        assert non_finite(finite) is None  # between log steps only the losses are read
        broken = copy.deepcopy(method)
        next(iter(broken.optimizers["G"].state.values()))["exp_avg"].view(-1)[3] = bad
        assert non_finite(finite, broken) == "optimiser G state exp_avg"


@pytest.fixture
def ctrl_c_handled() -> Iterator[None]:
    """Python's own SIGINT handler for the test, as in a terminal: a process started in the
    background of a non-interactive shell (some CI runners) inherits SIGINT ignored, and then
    Ctrl-C never reaches the training loop at all."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_handled")
def test_ctrl_c_saves_the_step_and_resumes_exactly(tiny_dataset: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = toy_config(tiny_dataset)
    train_run(config, tmp_path / "straight")
    with monkeypatch.context() as patch:
        poisoned(patch, 2, lambda _method: signal.raise_signal(signal.SIGINT))
        messages: list[str] = []
        with pytest.raises(Interrupted, match=r"^interrupted at step 3; rerun the same command to resume$"):
            train_run(config, tmp_path / "resumed", log=messages.append)
    assert any("Ctrl-C: stopping after this step" in m for m in messages)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the loop's handler is gone
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 3
    train_run(config, tmp_path / "resumed")
    a, b = states(tmp_path / "straight" / "checkpoint.pt"), states(tmp_path / "resumed" / "checkpoint.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def test_a_fresh_start_does_not_call_the_previous_runs_checkpoint_its_own(tiny_dataset: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    train_run(toy_config(tiny_dataset, "train.steps=2"), tmp_path)
    poisoned(monkeypatch, 4, inf_in_adam)
    with pytest.raises(NonFiniteLossError, match=r"no checkpoint had been saved yet$"):
        train_run(toy_config(tiny_dataset), tmp_path, resume=False)


def test_a_second_ctrl_c_stops_at_once_keeping_the_last_checkpoint(tiny_dataset: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def hard(_method: Method) -> None:
        raise KeyboardInterrupt

    poisoned(monkeypatch, 5, hard)
    with pytest.raises(Interrupted, match=r"^interrupted at step 5; rerun the same command to resume "
                                                  r"from the checkpoint at step 4$"):
        train_run(toy_config(tiny_dataset, "train.checkpoint_every=2"), tmp_path)


@pytest.mark.usefixtures("ctrl_c_handled")
def test_ctrl_c_is_one_line_and_exit_status_130(tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from eggan.cli.main import main

    poisoned(monkeypatch, 0, lambda _method: signal.raise_signal(signal.SIGINT))
    argv = ["eggan-bench", "train", "--method", "toy", "--preset", "smoke", "--data", str(tiny_dataset), "--out",
            str(tmp_path), "--no-progress"]
    with mock.patch.object(sys, "argv", argv), pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "interrupted at step 1; rerun the same command to resume"


def test_arbitrary_bytes_are_called_no_checkpoint_whatever_opcode_they_break_on(tmp_path: Path) -> None:
    """A non-zip file goes to torch's legacy unpickler, which fails on random bytes with
    UnpicklingError, IndexError, KeyError or UnicodeDecodeError depending on the first byte
    it trips on (os.urandom in a CLI test once hit IndexError in CI): every one must end as
    the same one-line CheckpointError, with no warning printed."""
    blob = tmp_path / "blob.pt"
    for seed in range(400):
        blob.write_bytes(random.Random(seed).randbytes(4096))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(CheckpointError, match=r"blob\.pt: not a PyTorch checkpoint file \("):
                load_file(blob)


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
    for tag in ("eggan-bench-checkpoint/2", None):  # another version of the format, or none
        other = tmp_path / "other.pt"
        torch.save({**({"format": tag} if tag else {}), "method": "toy", "image_size": 32}, other)
        with pytest.raises(CheckpointError, match=r"other\.pt: not an eggan-bench checkpoint"):
            load_checkpoint(other)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "x", "config": ConfigError("pickled object")}, unsafe)
    with pytest.raises(CheckpointError, match=r"arbitrary unpickling.*\(GLOBAL eggan\.errors\.ConfigError\)"):
        load_checkpoint(unsafe)
    noise = tmp_path / "noise.pt"
    noise.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CheckpointError, match=r"noise\.pt: not a PyTorch checkpoint file"):
        load_checkpoint(noise)
    with pytest.raises(CheckpointError, match="is a folder, not a checkpoint file"):
        load_checkpoint(tmp_path)


def test_data_order_shards_and_repeats() -> None:
    from eggan.core.distributed import DistEnv

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
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["world_size"] == 2


def test_bf16_autocast_runs_the_networks_in_bfloat16_and_keeps_float32_weights(
        tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With train.bf16 every network's forward pass computes in bfloat16 while the weights, the
    optimiser state and the checkpoint stay float32; the first step's losses are the float32 run's up
    to bfloat16 rounding (8 bits of mantissa), so the flag changes precision, not what is computed."""
    dtypes: list[torch.dtype] = []
    toy = get_method("toy")
    original = toy.train_step

    def recording(self: Method, batch: Batch, index: int) -> dict[str, torch.Tensor]:
        hooks = [net.register_forward_hook(lambda _m, _a, out: dtypes.append(out.dtype)) for net in self.nets.values()]
        try:
            return original(self, batch, index)
        finally:
            for hook in hooks:
                hook.remove()

    monkeypatch.setattr(toy, "train_step", recording)
    first = {}
    for bf16 in (False, True):
        dtypes.clear()
        result = train_run(toy_config(tiny_dataset, f"train.bf16={str(bf16).lower()}", "train.steps=1",
                                      "train.log_every=1"), tmp_path / str(bf16))
        assert set(dtypes) == {torch.bfloat16 if bf16 else torch.float32}
        first[bf16] = result.losses
        assert all(t.dtype == torch.float32 for key, t in states(result.checkpoint).items() if t.is_floating_point())
    assert first[True].keys() == first[False].keys()
    for key, value in first[False].items():
        assert first[True][key] == pytest.approx(value, rel=0.05, abs=1e-3), key
    assert first[True] != first[False]
