"""The one training loop of the suite, shared by EGGAN and every baseline.

It never knows which method it trains: it feeds batches to ``Method.train_step``, steps the
method's schedulers, logs what comes back, saves sample grids and checkpoints, and resumes.

Exact resume. The batch of step ``s`` is a pure function of (seed, s, rank) (`DataOrder`), and
the checkpoint holds every network, optimiser and scheduler plus each rank's RNG state, so on a
CPU ``N steps + resume + N steps`` produces the same weights as ``2N steps``.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torchvision.utils import make_grid, save_image

from eggan.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from eggan.config import RunConfig, apply_overrides, validate
from eggan.data.dataset import Batch, FaceDataset, Target
from eggan.data.sources import open_dataset
from eggan.distributed import DistEnv, all_gather, any_true, barrier, ddp_wrapper, init_distributed
from eggan.errors import ConfigError, EgganError
from eggan.io import atomic_write, atomic_write_json
from eggan.method import DataInfo, Method, get_method
from eggan.progress import MetricsLog, TrainProgress
from eggan.runmeta import environment, select_device

# Settings that may change between a run and its resumption without changing the result.
RESUMABLE_CHANGES = {"checkpoint_every", "sample_every", "log_every", "device"}


class NonFiniteLossError(EgganError):
    """A loss term became NaN or infinite; the run stops and the last good checkpoint is kept."""


@dataclass
class TrainResult:
    step: int
    total_steps: int
    checkpoint: Path
    rank: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    method: Method | None = None  # the trained method, still on its device


class DataOrder:
    """Which training images form the batch of a step: seeded per epoch, sharded over ranks."""

    def __init__(self, n: int, batch_size: int, env: DistEnv, seed: int) -> None:
        self.n, self.batch_size, self.env, self.seed = n, batch_size, env, seed
        self.steps_per_epoch = n // (batch_size * env.world_size)
        if self.steps_per_epoch < 1:
            raise ConfigError(
                f"the training split has {n} images, fewer than one batch "
                f"({batch_size} x {env.world_size} processes)"
            )

    def indices(self, step: int) -> torch.Tensor:
        epoch, position = divmod(step, self.steps_per_epoch)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.n, generator=generator)
        global_batch = self.batch_size * self.env.world_size
        start = position * global_batch + self.env.rank * self.batch_size
        return order[start : start + self.batch_size]

    def flips(self, step: int) -> torch.Tensor:
        """Horizontal-flip mask of a step's batch (its own generator, so it needs no saved state)."""
        generator = torch.Generator().manual_seed((self.seed * 7919 + step) * 131 + self.env.rank)
        return torch.rand(self.batch_size, generator=generator) < 0.5

    def state(self, step: int) -> dict[str, int]:
        epoch, position = divmod(step, self.steps_per_epoch)
        return {"epoch": epoch, "position": position, "steps_per_epoch": self.steps_per_epoch, "seed": self.seed}


def resolve_config(method: str, preset: str, data: str, overrides: list[str], device: str) -> RunConfig:
    """A method's preset with the command line applied on top (validated)."""
    config = get_method(method).preset(preset)
    config.data.source = data
    config.train.device = device
    return apply_overrides(config, overrides)


def total_steps(config: RunConfig, order: DataOrder) -> int:
    return config.train.steps if config.train.epochs is None else config.train.epochs * order.steps_per_epoch


def build_method(config: RunConfig, train: FaceDataset, device: torch.device, steps: int) -> Method:
    """Instantiate the configured method for the training split (networks on ``device``)."""
    info = DataInfo(image_size=config.data.image_size, n_identities=len(train.identities))
    method = get_method(config.method)(config.model, info, steps, device)
    method.nets.to(device)
    return method


def load_trained(path: str | Path, device: torch.device | str = "cpu") -> Method:
    """Rebuild a trained method from its checkpoint for inference (eval-ready, no optimiser state)."""
    payload = load_checkpoint(path)
    config = RunConfig.from_dict(payload["config"])
    info = DataInfo(**payload["info"])
    device = torch.device(device)
    method = get_method(config.method)(config.model, info, payload["total_steps"], device)
    method.load_state_dict(payload["method_state"], weights_only=True)
    method.nets.to(device)
    return method


def _check_same_config(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    for section in ("method", "data", "train", "model"):
        a, b = saved[section], current[section]
        if section == "train":
            a = {k: v for k, v in a.items() if k not in RESUMABLE_CHANGES}
            b = {k: v for k, v in b.items() if k not in RESUMABLE_CHANGES}
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)) if isinstance(a, dict) else []
            detail = f" ({section}.{keys[0]}: {a.get(keys[0])!r} vs {b.get(keys[0])!r})" if keys else ""
            raise ConfigError(
                f"checkpoint was trained with another config{detail}; use --fresh or another --out", path
            )


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _sample_grid(method: Method, fixed: Batch, path: Path) -> None:
    """Row 1: fixed training sources; row 2: each translated to the next one's target."""
    targets = Batch(*(torch.roll(t, 1, dims=0) for t in (fixed.image, fixed.aus, fixed.identity, fixed.expression)))
    generated = method.translate(fixed.image, Target.from_batch(targets)).cpu()
    rows = torch.cat([fixed.image.cpu(), targets.image.cpu(), generated])
    grid = make_grid((rows + 1) / 2, nrow=len(fixed.image), padding=2)
    buffer = io.BytesIO()
    save_image(grid, buffer, format="png")
    atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))


def train_run(
    config: RunConfig,
    out_dir: str | Path,
    resume: bool = True,
    progress: bool = False,
    dataset: FaceDataset | None = None,
    log: Callable[[str], None] | None = None,
    until: int | None = None,
) -> TrainResult:
    """Train ``config`` into ``out_dir`` (resuming from its checkpoint unless ``resume=False``).

    ``until`` stops early at that step with a checkpoint, as an interruption would; the schedule
    still spans the configured total, so a later call resumes exactly where this one stopped.
    """
    validate(config)
    out = Path(out_dir)
    env, device = init_distributed(select_device(config.train.device))
    say = log if log is not None and env.is_main else (lambda _msg: None)
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
    if dataset is None:
        if env.is_main:  # render SynthFACS once, before the other ranks read it
            dataset = open_dataset(config.data)
        barrier(env)
        dataset = dataset if dataset is not None else open_dataset(config.data)
    train = dataset.split("train")
    tc = config.train
    order = DataOrder(len(train), tc.batch_size, env, tc.seed)
    steps = total_steps(config, order)

    torch.manual_seed(tc.seed)  # identical initialisation on every rank
    method = build_method(config, train, device, steps)
    method.setup(train)
    checkpoint = out / CHECKPOINT_NAME
    start = 0
    if resume and checkpoint.is_file():
        payload = load_checkpoint(checkpoint, method=config.method, image_size=config.data.image_size)
        _check_same_config(payload["config"], config.to_dict(), checkpoint)
        method.load_state_dict(payload["method_state"])
        start = payload["step"]
        states = payload["rng"]
        if len(states) == env.world_size:
            _set_rng_state(states[env.rank], device)
        else:
            torch.manual_seed(tc.seed + 1_000_003 * (env.rank + 1) + start)
            say(f"checkpoint has RNG states for {len(states)} processes, not {env.world_size}: reseeded")
        say(f"resumed {config.method} from step {start} ({checkpoint})")
    else:
        method.pretrain(train, say)
        torch.manual_seed(tc.seed + 1_000_003 * (env.rank + 1))  # per-rank sampling noise
    if env.distributed:
        method.distribute(ddp_wrapper(env, device))

    if env.is_main:
        config.dump(out / "config.json")
        atomic_write_json(out / "meta.json", {
            "environment": environment(device),
            "world_size": env.world_size,
            "dataset": dataset.describe(),
            "method": method.metadata(),
            "total_steps": steps,
            "steps_per_epoch": order.steps_per_epoch,
        })

    def save(step: int) -> None:
        rng = all_gather(env, _rng_state(device))
        if env.is_main:
            save_checkpoint(checkpoint, {
                "method": config.method,
                "image_size": config.data.image_size,
                "config": config.to_dict(),
                "info": method.info.to_dict(),
                "step": step,
                "total_steps": steps,
                "method_state": method.state_dict(),
                "rng": rng,
                "data": order.state(step),
            })
        barrier(env)

    metrics = MetricsLog(out / "metrics.jsonl", after_step=start) if env.is_main else None
    fixed = train.batch(torch.linspace(0, len(train) - 1, min(8, len(train))).long()).to(device)  # spread over ids
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if tc.bf16 else nullcontext()
    last: dict[str, float] = {}
    stop = steps if until is None else min(until, steps)
    with TrainProgress(config.method, start, steps, enabled=progress and env.is_main) as bar:
        tick = time.perf_counter()
        for step in range(start, stop):
            batch = train.batch(order.indices(step))
            if config.data.hflip:
                flip = order.flips(step)
                batch.image[flip] = batch.image[flip].flip(-1)
            with autocast:
                losses = method.train_step(batch.to(device), step)
            bad = [name for name, value in losses.items() if not torch.isfinite(value).all()]
            if any_true(env, bool(bad), device):
                raise NonFiniteLossError(
                    f"step {step}: loss term {bad[0] if bad else '(on another rank)'} is not finite; "
                    f"stopped, the last good checkpoint ({checkpoint}) is kept"
                )
            with warnings.catch_warnings():
                # Schedules count iterations; a generator stepped every n_critic iterations has not
                # stepped yet at iteration 0, which torch warns about. That is the intended order.
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
                for scheduler in method.schedulers.values():
                    scheduler.step()
            done = step + 1
            if done % tc.log_every == 0 or done == steps:
                elapsed = time.perf_counter() - tick
                last = {name: float(value) for name, value in losses.items()}
                rate = tc.batch_size * env.world_size * tc.log_every / max(elapsed, 1e-9)
                if metrics is not None:
                    lrs = {name: opt.param_groups[0]["lr"] for name, opt in method.optimizers.items()}
                    metrics.write({"step": done, **last, "images_per_s": rate, "lr": lrs})
                bar.update(done, last, rate)
                tick = time.perf_counter()
            if env.is_main and (done % tc.sample_every == 0 or done == steps):
                _sample_grid(method, fixed, out / "samples" / f"step-{done:07d}.png")
            if done % tc.checkpoint_every == 0 or done in (steps, stop):
                save(done)
    if metrics is not None:
        metrics.close()
    return TrainResult(step=max(start, stop), total_steps=steps, checkpoint=checkpoint, rank=env.rank, losses=last,
                       method=method)
