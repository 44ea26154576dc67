"""Progress bar and metrics log of the training loop.

The log is JSON Lines (one object per logged step), mirrored to TensorBoard when the
``tensorboard`` package is installed. On resume, lines past the checkpoint's step are dropped,
so the log of a resumed run reads like the log of an uninterrupted one.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from eggan.io import atomic_write_text


class MetricsLog:
    def __init__(self, path: Path, after_step: int = 0) -> None:
        self.path = path
        if path.is_file():
            kept = [line for line in path.read_text().splitlines() if _step(line) <= after_step]
            atomic_write_text(path, "".join(f"{line}\n" for line in kept))
        self.handle = path.open("a", encoding="utf-8")
        self.tensorboard = _tensorboard(path.parent / "tensorboard")

    def write(self, record: dict[str, Any]) -> None:
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()
        if self.tensorboard is not None:
            for key, value in record.items():
                if isinstance(value, float):
                    self.tensorboard.add_scalar(key, value, record["step"])

    def close(self) -> None:
        self.handle.close()
        if self.tensorboard is not None:
            self.tensorboard.close()


def _step(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return 1 << 62  # a torn last line from a crash: drop it


def _tensorboard(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(folder))


class TrainProgress:
    """A rich progress bar showing the step, the latest losses and images/s (or nothing)."""

    def __init__(self, label: str, start: int, total: int, enabled: bool) -> None:
        self.label = label
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            disable=not enabled,
        )
        self.task = self.progress.add_task(label, total=total, completed=start, status="")

    def __enter__(self) -> TrainProgress:
        self.progress.start()
        return self

    def update(self, step: int, losses: dict[str, float], images_per_s: float) -> None:
        shown = " ".join(f"{k}={v:.3g}" for k, v in list(losses.items())[:6])
        self.progress.update(self.task, completed=step, status=f"{shown} {images_per_s:.1f} img/s")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()
