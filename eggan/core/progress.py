"""Progress bar and metrics log of the training loop.

The log is JSON Lines (one object per logged step), mirrored to TensorBoard when the
``tensorboard`` package is installed. On resume, lines past the checkpoint's step are dropped,
so the log of a resumed run reads like the log of an uninterrupted one.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
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
    """The training loop's progress on stderr: a live bar on a terminal, plain lines elsewhere.

    The bar always keeps the label, the bar, the step count and the ETA (80 columns included);
    images/s and then as many loss values as fit get the rest of the line. Piped to a file, a
    live bar would show nothing until the end, so there the same facts go out as plain, flushed
    lines: at the first update, every ``PLAIN_EVERY_S`` seconds and at the last step.
    """

    BAR_WIDTH = 20
    PLAIN_EVERY_S = 15.0

    def __init__(self, label: str, start: int, total: int, enabled: bool, console: Console | None = None) -> None:
        self.label, self.start, self.total = label, start, total
        self.console = console or Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.plain = enabled and not self.live
        self.began = self.printed = time.monotonic()
        self.quiet = True  # nothing printed yet in plain mode
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=self.BAR_WIDTH),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            disable=not self.live,
        )
        self.task = self.progress.add_task(label, total=total, completed=start, status="")

    def __enter__(self) -> TrainProgress:
        self.progress.start()
        return self

    def update(self, step: int, losses: dict[str, float], images_per_s: float) -> None:
        if self.live:
            fixed = len(self.label) + self.BAR_WIDTH + 2 * len(str(self.total)) + 1 + len("0:00:00") + 5
            status = fit_status(losses, images_per_s, self.console.width - fixed)
            self.progress.update(self.task, completed=step, status=status)
        elif self.plain:
            now = time.monotonic()
            if self.quiet or step >= self.total or now - self.printed >= self.PLAIN_EVERY_S:
                self.quiet, self.printed = False, now
                done = step - self.start
                eta = "-:--:--" if done <= 0 else str(timedelta(seconds=round((now - self.began) / done
                                                                              * (self.total - step))))
                status = fit_status(losses, images_per_s, 1 << 16)
                self.console.print(f"{self.label}: step {step}/{self.total}, ETA {eta}, {status}",
                                   markup=False, highlight=False, soft_wrap=True)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()


def fit_status(losses: dict[str, float], images_per_s: float, width: int) -> str:
    """images/s, then loss values in order while they fit in ``width`` characters."""
    status = f"{images_per_s:.1f} img/s"
    if len(status) > width:
        return ""
    for name, value in losses.items():
        longer = f"{status} {name}={value:.3g}"
        if len(longer) > width:
            break
        status = longer
    return status
