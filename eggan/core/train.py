"""The one training loop of the suite, shared by EGGAN and every baseline.

It never knows which method it trains: it feeds batches to ``Method.train_step``, steps the
method's schedulers, logs what comes back, saves sample grids and checkpoints, and resumes.

Exact resume. The batch of step ``s`` is a pure function of (seed, s, rank) (`DataOrder`), and
the checkpoint holds every network, optimiser and scheduler plus each rank's RNG state, so on a
CPU ``N steps + resume + N steps`` produces the same weights as ``2N steps``.
"""

from __future__ import annotations

import io
import signal
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torchvision.utils import make_grid, save_image

from eggan.core.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from eggan.core.config import RunConfig, apply_overrides, validate
from eggan.core.distributed import DistEnv, all_gather, any_true, barrier, ddp_wrapper, init_distributed
from eggan.core.lock import locked_dir
from eggan.core.method import DataInfo, Method
from eggan.core.progress import MetricsLog, TrainProgress
from eggan.core.provenance import (
    RESUMABLE_CHANGES,
    check_config_copy,
    check_data,
    dataset_record,
    restore_config_copy,
)
from eggan.core.registry import get_method, read_run_config
from eggan.core.runmeta import environment, select_device
from eggan.data.dataset import Batch, FaceDataset, Target
from eggan.data.sources import open_dataset
from eggan.errors import ConfigError, EgganError, Interrupted
from eggan.io import atomic_write, atomic_write_json

# A monitor (evaluate.monitor) measures a method while it trains, for learning curves only.
Monitor = Callable[[Method], dict[str, float | None]]


class NonFiniteLossError(EgganError):
    """A loss, weight or optimiser state became NaN or infinite; the run stops, the last good
    checkpoint is kept (state is checked at every log step and before every save)."""


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


def build_method(config: RunConfig, info: DataInfo, device: torch.device, steps: int) -> Method:
    """Instantiate the configured method for data described by ``info`` (networks on ``device``)."""
    method = get_method(config.method)(config.model, info, steps, device)
    method.nets.to(device)
    return method


def load_trained(path: str | Path, device: torch.device | str = "cpu") -> Method:
    """Rebuild a trained method from its checkpoint for inference (eval-ready, no optimiser state)."""
    device = select_device(device) if isinstance(device, str) else device
    payload = load_checkpoint(path)
    method = build_method(read_run_config(payload["config"]), DataInfo(**payload["info"]), device,
                          payload["total_steps"])
    method.load_state_dict(payload["method_state"], weights_only=True)
    return method


def _check_same_config(saved: dict[str, Any], config: RunConfig, path: Path) -> None:
    """Refuse to resume a checkpoint trained with another config. Its config is read back through
    the method's config dataclass, so a field added to the suite after the checkpoint was written
    takes its default, which by this suite's rule keeps the old behaviour (every new setting is off
    by default): such a checkpoint resumes when the current config keeps that default too."""
    saved_config, current = read_run_config(saved).to_dict(), config.to_dict()
    for section in ("method", "data", "train", "model"):
        a, b = saved_config[section], current[section]
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


def non_finite(losses: dict[str, torch.Tensor], method: Method | None = None) -> str | None:
    """The first loss term, or with ``method`` network tensor or optimiser state, that is NaN or
    infinite. The state costs one device sync per device; names are looked up only on failure."""
    bad = next((name for name, value in losses.items() if not torch.isfinite(value).all()), None)
    if bad is not None or method is None:
        return None if bad is None else f"loss term {bad}"
    named = [(f"weight {net}.{key}", t) for net, module in method.nets.items()
             for key, t in module.state_dict().items() if t.is_floating_point()]
    named += [(f"optimiser {opt} state {key}", t) for opt, optimizer in method.optimizers.items()
              for slot in optimizer.state.values() for key, t in slot.items()
              if torch.is_tensor(t) and t.is_floating_point()]
    by_device: dict[torch.device, list[torch.Tensor]] = {}
    for _, tensor in named:
        by_device.setdefault(tensor.device, []).append(torch.isfinite(tensor).all())
    if all(bool(torch.stack(flags).all()) for flags in by_device.values()):
        return None
    return next(name for name, tensor in named if not torch.isfinite(tensor).all())


class _Interrupt:
    """The first Ctrl-C asks the loop to stop after the step under way (with a checkpoint); the
    handler then steps aside, so a second Ctrl-C interrupts at once."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say, self.requested, self.previous = say, False, None

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous not in (signal.SIG_IGN, None):
                self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, _signum: int, _frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)
        self.say("Ctrl-C: stopping after this step with a checkpoint (press Ctrl-C again to stop at once)")

    def __exit__(self, *_exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


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
    allow_other_data: bool = False,
    monitor_for: Callable[[FaceDataset], Monitor | None] | None = None,
) -> TrainResult:
    """Train ``config`` into ``out_dir`` (resuming from its checkpoint unless ``resume=False``).

    A checkpoint trained on other data than ``config``'s (another fingerprint) or whose
    ``config.json`` was edited is refused in one line, before anything is written
    (``eggan.core.provenance``); ``allow_other_data`` lets it go on with this data, recorded in the
    checkpoint.

    ``until`` stops early at that step with a checkpoint, as an interruption would; the schedule
    still spans the configured total, so a later call resumes exactly where this one stopped.
    The folder is locked while this process writes it (`eggan.core.lock`) and is only created once the
    data and the method are built, so a bad option leaves nothing behind; a run already at its
    last step writes nothing. Ctrl-C ends the step under way, saves a checkpoint and raises
    ``Interrupted`` (a second Ctrl-C stops at once, keeping the last checkpoint). ``monitor_for``
    builds, from the dataset, a monitor (evaluate.monitor) that the main process measures every
    ``train.monitor_every`` steps and logs; it is never fed back to the method.
    """
    validate(config)
    out = Path(out_dir)
    env, device = init_distributed(select_device(config.train.device))
    say = log if log is not None and env.is_main else (lambda _msg: None)
    if dataset is None:
        if env.is_main:  # render SynthFACS once, before the other ranks read it
            dataset = open_dataset(config.data)
        barrier(env)
        dataset = dataset if dataset is not None else open_dataset(config.data)
    train = dataset.split("train")
    order = DataOrder(len(train), config.train.batch_size, env, config.train.seed)
    steps = total_steps(config, order)

    torch.manual_seed(config.train.seed)  # identical initialisation on every rank
    info = DataInfo.of(config.data.image_size, train)
    method = build_method(config, info, device, steps)
    method.setup(train, say)
    with locked_dir(out, say) if env.is_main else nullcontext():
        monitor = monitor_for(dataset) if monitor_for is not None and env.is_main else None
        return _train(config, out, env, device, dataset, train, method, order, steps, resume, progress, say, until,
                      allow_other_data, monitor)


def _train(config: RunConfig, out: Path, env: DistEnv, device: torch.device, dataset: FaceDataset,
           train: FaceDataset, method: Method, order: DataOrder, steps: int, resume: bool, progress: bool,
           say: Callable[[str], None], until: int | None, allow_other_data: bool,
           monitor: Monitor | None) -> TrainResult:
    tc = config.train
    checkpoint = out / CHECKPOINT_NAME
    stop = steps if until is None else min(until, steps)
    start, saved = 0, None  # saved: the step of this run's checkpoint on disk, if any
    record = dataset_record(dataset.fingerprint(), dataset.name)
    if resume and checkpoint.is_file():
        payload = load_checkpoint(checkpoint, method=config.method, image_size=config.data.image_size)
        _check_same_config(payload["config"], config, checkpoint)
        check_config_copy(out, payload["config"])
        note = check_data(payload, dataset.fingerprint(), checkpoint, allow_other_data, "--fresh to start again")
        if note is not None and note["trained_on"] != note["scored_on"]:
            say(f"{checkpoint}: trained on data {note['trained_on']}, going on with {note['scored_on']} "
                "(allowed; recorded in the checkpoint)")
        record = dataset_record(dataset.fingerprint(), dataset.name, payload)
        method.load_state_dict(payload["method_state"])
        start = saved = payload["step"]
        if start >= stop:
            say(f"{config.method} is already trained to step {start} ({checkpoint})")
            if env.is_main:
                restore_config_copy(out, payload["config"])
            return TrainResult(step=start, total_steps=steps, checkpoint=checkpoint, rank=env.rank, method=method)
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
                "dataset": record,
            })
        barrier(env)

    metrics = MetricsLog(out / "metrics.jsonl", after_step=start) if env.is_main else None
    fixed = train.batch(torch.linspace(0, len(train) - 1, min(8, len(train))).long()).to(device)  # spread over ids
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if tc.bf16 else nullcontext()
    last: dict[str, float] = {}
    # Each loss's sum and count since the last log line: a line shows window means, so a loss that
    # only some iterations compute (E and I every n_discrim-th, G every n_critic-th) is logged too.
    window: dict[str, tuple[torch.Tensor, int]] = {}
    step = start
    with TrainProgress(config.method, start, steps, enabled=progress and env.is_main) as bar, \
            _Interrupt(say) as interrupt:
        # Training time and steps since the last line: images_per_s counts the steps a line covers
        # (a resumed run's first window can be partial) and leaves out samples, monitor and checkpoints.
        busy, busy_steps = 0.0, 0
        try:
            for step in range(start, stop):
                started = time.perf_counter()
                batch = train.batch(order.indices(step))
                if config.data.hflip:
                    flip = order.flips(step)
                    batch.image[flip] = batch.image[flip].flip(-1)
                with autocast:
                    losses = method.train_step(batch.to(device), step)
                for name, value in losses.items():
                    total, count = window.get(name, (torch.zeros((), device=value.device), 0))
                    window[name] = (total + value.detach().float(), count + 1)
                done = step + 1
                regular = done % tc.checkpoint_every == 0 or done in (steps, stop)
                boundary = regular or done % tc.log_every == 0
                # Ranks agree on stopping at a boundary step; a single process stops at the next step.
                wants_stop = interrupt.requested and (boundary or not env.distributed)
                problem = non_finite(losses, method if boundary or wants_stop else None)
                bad, stopping = any_true(env, [problem is not None, wants_stop], device)
                if bad:
                    kept = (f"the last good checkpoint ({checkpoint}, step {saved}) is kept" if saved is not None
                            else "no checkpoint had been saved yet")
                    raise NonFiniteLossError(f"step {step}: {problem or 'a value on another rank'} is not finite; "
                                             f"stopped, {kept}")
                with warnings.catch_warnings():
                    # Schedules count iterations; a generator stepped every n_critic iterations has not
                    # stepped yet at iteration 0, which torch warns about. That is the intended order.
                    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
                    for scheduler in method.schedulers.values():
                        scheduler.step()
                busy, busy_steps = busy + time.perf_counter() - started, busy_steps + 1
                if done % tc.log_every == 0 or done == steps:
                    last = {name: float(total) / count for name, (total, count) in window.items()}
                    window.clear()
                    rate = tc.batch_size * env.world_size * busy_steps / max(busy, 1e-9)
                    busy, busy_steps = 0.0, 0
                    if metrics is not None:
                        lrs = {name: opt.param_groups[0]["lr"] for name, opt in method.optimizers.items()}
                        metrics.write({"step": done, **last, "images_per_s": rate, "lr": lrs})
                    bar.update(done, last, rate)
                if env.is_main and (done % tc.sample_every == 0 or done == steps):
                    _sample_grid(method, fixed, out / "samples" / f"step-{done:07d}.png")
                if monitor is not None and metrics is not None and (done % tc.monitor_every == 0 or done == steps):
                    metrics.write({"step": done, **monitor(method)})
                if regular or stopping:
                    save(done)
                    saved = done
                if stopping:
                    raise Interrupted(f"interrupted at step {done}; rerun the same command to resume")
        except KeyboardInterrupt:
            resume_from = ("start again" if saved is None else
                           "resume" if saved == step else f"resume from the checkpoint at step {saved}")
            raise Interrupted(f"interrupted at step {step}; rerun the same command to {resume_from}") from None
    if metrics is not None:
        metrics.close()
    return TrainResult(step=max(start, stop), total_steps=steps, checkpoint=checkpoint, rank=env.rank, losses=last,
                       method=method)
