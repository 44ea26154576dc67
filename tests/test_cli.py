"""The command line: every command documents itself with examples, and user errors are one line."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from unittest import mock

import pytest
import typer
from hang_guard import HANG_GUARD_S
from typer.testing import CliRunner

from eggan.cli.main import app, main, show_warnings_as_lines
from eggan.errors import EgganWarning


def command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths = []
    for name, command in root.commands.items():
        if hasattr(command, "commands"):  # a group such as `data`
            paths += [[name, sub] for sub in command.commands]
        else:
            paths.append([name])
    return paths


def group_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    return [[]] + [[name] for name, command in root.commands.items() if hasattr(command, "commands")]


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("group", group_paths(), ids=lambda path: " ".join(["eggan-bench", *path]))
def test_command_lists_show_whole_sentences(group: list[str], columns: int) -> None:
    """Click shows a command's first sentence, cut with "..." when it does not fit the terminal."""
    result = CliRunner().invoke(app, [*group, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0
    listing = result.output.split("Commands:\n", 1)[1].splitlines()
    names = {path[len(group)] for path in command_paths() if path[: len(group)] == group}
    assert {line.split()[0] for line in listing if line.strip()} == names
    for line in filter(str.strip, listing):
        assert line.rstrip().endswith(".") and not line.rstrip().endswith("..."), line


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_has_help_with_examples(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=150)
    assert result.exit_code == 0 and "Examples:" in result.output
    assert f"eggan-bench {' '.join(path)}" in result.output


def test_user_error_is_one_line_with_exit_status_2(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "eggan", "train", "--method", "pix2pix", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: unknown method 'pix2pix'; available: eggan, stargan, "
                                                "homointerp, ganimation"]


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    with mock.patch.object(sys, "argv", ["eggan-bench", *args]), pytest.raises(SystemExit) as done:
        main()
    return done.value.code, capsys.readouterr().err.strip().splitlines()


def test_ctrl_c_outside_a_training_says_how_to_go_on(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_run: object, **_options: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("reports.report.build_report", interrupted)
    assert run_main(capsys, "report", "somewhere") == (130, ["interrupted; rerun the same command to continue"])


def test_an_error_is_printed_verbatim(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    odd = tmp_path / "[bold]run[/]"
    assert run_main(capsys, "report", str(odd)) == (
        2, [f"error: {odd}: no results.json: run `eggan-bench run` or `eggan-bench evaluate` first"])


def test_the_suites_warnings_are_one_line_once_per_process(capsys: pytest.CaptureFixture[str]) -> None:
    others: list[type[Warning]] = []
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, category, *args, **kwargs: others.append(category)
        show_warnings_as_lines()
        for _ in range(3):  # e.g. one random VGG19 per trained EGGAN of a benchmark
            warnings.warn("a random VGG19 stands in for ImageNet weights (test)", EgganWarning, stacklevel=1)
        warnings.warn("another package's warning (test)", UserWarning, stacklevel=1)
    assert capsys.readouterr().err.splitlines() == ["warning: a random VGG19 stands in for ImageNet weights (test)"]
    assert others == [UserWarning]  # shown as Python shows it, with its source line
