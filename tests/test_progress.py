"""The training loop's progress: a bar readable at 80 columns, plain flushed lines in a log."""

from __future__ import annotations

import io
import re

from rich.console import Console

from eggan.core.progress import TrainProgress, fit_status

LOSSES = {"d_img": -1.2345, "g_adv": 3.21e5, "gp": 0.0123, "rec": 0.5, "msssim": 0.3, "z": 1.0}


class Recorder(io.StringIO):
    """A log file that counts its flushes."""

    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_the_bar_keeps_step_count_and_eta_at_80_columns() -> None:
    file = io.StringIO()
    console = Console(file=file, width=80, force_terminal=True, color_system="standard")
    with TrainProgress("homointerp", 0, 241200, enabled=True, console=console) as bar:
        bar.update(120600, LOSSES, 12.34)
        bar.progress.refresh()
    lines = [re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", line) for line in re.split(r"[\r\n]", file.getvalue())]
    last = [line for line in lines if line.strip()][-1]
    assert len(last) <= 80
    assert re.fullmatch(r"homointerp ━{10}╺━{9} 120600/241200 (-|\d):[-\d]{2}:[-\d]{2} 12\.3 img/s d_img=-1\.23",
                        last), last  # losses that do not fit are dropped, last first


def test_status_drops_losses_before_the_rate() -> None:
    assert fit_status(LOSSES, 12.34, 200) == "12.3 img/s d_img=-1.23 g_adv=3.21e+05 gp=0.0123 rec=0.5 msssim=0.3 z=1"
    assert fit_status(LOSSES, 12.34, 25) == "12.3 img/s d_img=-1.23"
    assert fit_status(LOSSES, 12.34, 5) == ""


def test_a_log_file_gets_plain_flushed_lines() -> None:
    file = Recorder()
    console = Console(file=file, width=80)  # not a terminal: no live bar
    with TrainProgress("eggan", 0, 30, enabled=True, console=console) as bar:
        for step in (10, 20, 30):
            bar.update(step, {"d": 0.5}, 8.0)
            if step == 10:
                assert file.getvalue().startswith("eggan: step 10/30, ETA ") and file.flushes
    lines = file.getvalue().splitlines()
    assert lines[0].startswith("eggan: step 10/30, ETA ") and lines[0].endswith(", 8.0 img/s d=0.5")
    assert lines[-1].startswith("eggan: step 30/30, ETA 0:00:00")
    assert len(lines) == 2  # the step in between is within PLAIN_EVERY_S of the first line


def test_disabled_progress_prints_nothing() -> None:
    file = io.StringIO()
    with TrainProgress("eggan", 0, 30, enabled=False, console=Console(file=file, force_terminal=True)) as bar:
        bar.update(30, {"d": 0.5}, 8.0)
    assert file.getvalue() == ""
